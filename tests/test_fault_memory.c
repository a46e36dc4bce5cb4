/* Allocation failures inside the memory backend. Its tables were GLib trees and hashes, and GLib
 * aborts the process when an allocation fails: a host on the memory backend, and verify's scratch
 * replay (entity check), crashed when memory ran out instead of getting ENT_NOMEM.
 *
 * - every_nth: a random workload of the backend's calls (tables, puts, deletes, clears, savepoints,
 *   cursors, commits, aborts) on a memory store whose every Nth allocation fails (the library's
 *   malloc/calloc/realloc/strdup go through the wrappers of fault_alloc_wrap.h: -Wl,--wrap, tests/CMakeLists.txt),
 *   beside a twin store that gets only the calls that succeeded, without faults. Every call returns
 *   what the twin's returns or ENT_NOMEM with a message, and after each call both hold the same
 *   pairs: a failed call changed nothing.
 * - address_space: a child process with a small address-space limit (setrlimit RLIMIT_AS, as
 *   `ulimit -v`) puts small pairs into one transaction until memory runs out: it must get
 *   ENT_NOMEM and exit, not abort (the big doubling allocations, the hash's and the undo list's,
 *   are the ones that fail first; they were GLib's). Not under ASan/TSan, whose shadow memory does
 *   not fit under such a limit. */
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "fault_alloc_wrap.h"
#include "test_rand.h"
#include "test_util.h"

static const ent_backend_ops *B = &ent__backend_memory;

/* ---- every Nth allocation fails ------------------------------------------------------------ */

enum { NTAB = 3 }; /* plain, DUPSORT, and a plain one created and dropped by aborts */
static const char *const tab_name[NTAB] = {"plain", "dup", "late"};
static const unsigned tab_flags[NTAB] = {0, ENT_TBL_DUPSORT, 0};

typedef struct side {
    ent_bk *be;
    ent_btxn *w;
    unsigned tb[NTAB];
    int have[NTAB]; /* the table is known to this txn */
} side;

typedef struct run {
    side f, r; /* faulty, reference */
    uint64_t rnd;
    long calls, nomem;
    int bad;
} run;

/* Call with faults armed; retry (a bounded number of times) while it says ENT_NOMEM, for calls the
 * workload needs to succeed (begin, cursor moves). */
#define ARMED(rc, expr)                                                                            \
    do {                                                                                           \
        armed = 1;                                                                                 \
        rc = (expr);                                                                               \
        armed = 0;                                                                                 \
    } while (0)

static int cmp_slices(ent_slice a, ent_slice b) { return a.len == b.len && (!a.len || !memcmp(a.data, b.data, a.len)); }

/* Every pair of table i in both txns, in order, without faults. 0 when equal. */
static int same_table(run *x, int i)
{
    ent_bcur *a = NULL, *b = NULL;
    int ra, rb, op = ENT_CUR_FIRST, diff = 0;
    if (!x->f.have[i] || !x->r.have[i]) return x->f.have[i] != x->r.have[i];
    if (B->cursor_open(x->f.w, x->f.tb[i], &a) || B->cursor_open(x->r.w, x->r.tb[i], &b)) return 1;
    for (;; op = ENT_CUR_NEXT) {
        ent_slice ka = {0}, va = {0}, kb = {0}, vb = {0};
        ra = B->cursor_get(a, op, &ka, &va);
        rb = B->cursor_get(b, op, &kb, &vb);
        if (ra != rb || (ra == ENT_OK && (!cmp_slices(ka, kb) || !cmp_slices(va, vb)))) {
            diff = 1;
            break;
        }
        if (ra) break;
    }
    B->cursor_close(a);
    B->cursor_close(b);
    return diff;
}

static void check_same(run *x, const char *after)
{
    for (int i = 0; i < NTAB; i++)
        if (same_table(x, i)) {
            fprintf(stderr, "\n  every %ld, call %ld (%s): table %s differs from the reference\n", every, x->calls,
                    after, tab_name[i]);
            x->bad = 1;
            return;
        }
}

/* One call on the faulty side, then on the reference side if it succeeded; a failure must be
 * ENT_NOMEM with a message and change nothing. */
static void outcome(run *x, int rf, int rr, const char *what)
{
    x->calls++;
    if (rf == ENT_NOMEM) {
        x->nomem++;
        if (!ent_errmsg()[0]) {
            fprintf(stderr, "\n  every %ld: %s: ENT_NOMEM without a message\n", every, what);
            x->bad = 1;
        }
    } else if (rf != rr) {
        fprintf(stderr, "\n  every %ld: %s returned %d (%s), the reference %d\n", every, what, rf, ent_errmsg(), rr);
        x->bad = 1;
    }
    check_same(x, what);
}

static int begin_both(run *x)
{
    int rc = ENT_NOMEM;
    for (int tries = 0; rc == ENT_NOMEM && tries < 8; tries++) ARMED(rc, B->txn_begin(x->f.be, 1, &x->f.w));
    if (rc) return rc;
    if ((rc = B->txn_begin(x->r.be, 1, &x->r.w))) return rc;
    for (int i = 0; i < NTAB; i++) {
        /* a table exists for the new txn when the reference finds it */
        x->r.have[i] = B->table(x->r.be, x->r.w, tab_name[i], 0, &x->r.tb[i]) == ENT_OK;
        x->f.have[i] = x->r.have[i] && B->table(x->f.be, x->f.w, tab_name[i], 0, &x->f.tb[i]) == ENT_OK;
        if (x->f.have[i] != x->r.have[i]) return ENT_INVALID;
    }
    return ENT_OK;
}

static void end_both(run *x, int commit)
{
    if (commit) {
        int rf, rr;
        ARMED(rf, B->txn_commit(x->f.w));
        rr = B->txn_commit(x->r.w);
        if (rf != rr) {
            fprintf(stderr, "\n  every %ld: commit returned %d (%s), the reference %d\n", every, rf, ent_errmsg(), rr);
            x->bad = 1;
        }
    } else {
        armed = 1;
        B->txn_abort(x->f.w);
        armed = 0;
        B->txn_abort(x->r.w);
    }
    x->f.w = x->r.w = NULL;
}

static void key_of(char *buf, size_t cap, uint64_t r, ent_slice *out)
{
    /* 64 keys sharing prefixes, some long (up to the 511 bytes of a persistent backend's keys) */
    unsigned n = (unsigned)(r % 64);
    size_t len = n % 16 == 15 ? 500 : (size_t)snprintf(buf, cap, "key-%02u", n);
    if (len == 500) {
        memset(buf, 'a' + (int)(n % 26), len);
        buf[len - 1] = (char)n;
    }
    out->data = buf;
    out->len = len;
}

static void step(run *x)
{
    static char kb[600], vb[400];
    uint64_t r = test_rand_next(&x->rnd);
    int ti = (int)(r % NTAB), rf, rr;
    ent_slice k, v;
    r >>= 8;
    key_of(kb, sizeof kb, r, &k);
    r >>= 8;
    v.len = (size_t)(r % 300);
    memset(vb, 'v', v.len);
    if (v.len) vb[0] = (char)(r >> 9);
    v.data = vb;
    r >>= 20;
    switch (r % 16) {
    case 0: /* the table, created when missing */
        if (x->f.have[ti]) break;
        ARMED(rf, B->table(x->f.be, x->f.w, tab_name[ti], ENT_TBL_CREATE | tab_flags[ti], &x->f.tb[ti]));
        rr = rf == ENT_NOMEM ? ENT_NOMEM : B->table(x->r.be, x->r.w, tab_name[ti], ENT_TBL_CREATE | tab_flags[ti], &x->r.tb[ti]);
        if (rf == ENT_OK) x->f.have[ti] = 1;
        if (rr == ENT_OK) x->r.have[ti] = 1;
        outcome(x, rf, rr, "table");
        break;
    case 1: case 2: case 3: case 4: case 5: case 6: { /* put */
        unsigned fl = (r >> 4) % 4 == 0 ? ENT_PUT_NOOVERWRITE : 0;
        if (!x->f.have[ti]) break;
        ARMED(rf, B->put(x->f.w, x->f.tb[ti], &k, &v, fl));
        rr = rf == ENT_NOMEM ? ENT_NOMEM : B->put(x->r.w, x->r.tb[ti], &k, &v, fl);
        outcome(x, rf, rr, "put");
        break;
    }
    case 7: case 8: /* delete the key, or (DUPSORT) one pair */
        if (!x->f.have[ti]) break;
        ARMED(rf, B->del(x->f.w, x->f.tb[ti], &k, (r >> 4) % 2 && ti == 1 ? &v : NULL));
        rr = rf == ENT_NOMEM ? ENT_NOMEM : B->del(x->r.w, x->r.tb[ti], &k, (r >> 4) % 2 && ti == 1 ? &v : NULL);
        outcome(x, rf, rr, "del");
        break;
    case 9: /* clear, now and then */
        if (!x->f.have[ti] || (r >> 4) % 4) break;
        ARMED(rf, B->clear(x->f.w, x->f.tb[ti]));
        rr = rf == ENT_NOMEM ? ENT_NOMEM : B->clear(x->r.w, x->r.tb[ti]);
        outcome(x, rf, rr, "clear");
        break;
    case 10: { /* get */
        ent_slice of = {0}, orr = {0};
        if (!x->f.have[ti]) break;
        ARMED(rf, B->get(x->f.w, x->f.tb[ti], &k, &of));
        rr = B->get(x->r.w, x->r.tb[ti], &k, &orr);
        if (rf == ENT_OK && rr == ENT_OK && !cmp_slices(of, orr)) rf = -1000;
        outcome(x, rf, rr, "get");
        break;
    }
    case 11: { /* a cursor walk from a seek, faults armed; a move that fails is retried */
        ent_bcur *c = NULL, *cr = NULL;
        int tries = 0;
        if (!x->f.have[ti]) break;
        do ARMED(rf, B->cursor_open(x->f.w, x->f.tb[ti], &c));
        while (rf == ENT_NOMEM && ++tries < 8);
        if (rf || B->cursor_open(x->r.w, x->r.tb[ti], &cr)) {
            outcome(x, rf, ENT_OK, "cursor_open");
            B->cursor_close(c);
            break;
        }
        for (int op = ENT_CUR_SEEK, n = 0; n < 40; n++, op = (r >> 5) % 2 ? ENT_CUR_NEXT : ENT_CUR_PREV) {
            ent_slice kf = k, vf = v, kr = k, vr = v;
            tries = 0;
            do ARMED(rf, B->cursor_get(c, op, &kf, &vf));
            while (rf == ENT_NOMEM && ++tries < 8);
            rr = B->cursor_get(cr, op, &kr, &vr);
            if (rf == ENT_OK && rr == ENT_OK && (!cmp_slices(kf, kr) || !cmp_slices(vf, vr))) rf = -1000;
            outcome(x, rf, rr, "cursor_get");
            if (rf || rr) break;
        }
        B->cursor_close(c);
        B->cursor_close(cr);
        break;
    }
    case 12: /* a savepoint around the next few calls */
        if ((r >> 4) % 2) {
            ARMED(rf, B->sp_begin(x->f.w));
            rr = B->sp_begin(x->r.w);
            outcome(x, rf, rr, "sp_begin");
        } else {
            int keep = (r >> 5) % 2;
            ARMED(rf, B->sp_end(x->f.w, keep));
            rr = B->sp_end(x->r.w, keep);
            outcome(x, rf, rr, "sp_end");
        }
        break;
    case 13: /* commit or abort, and a new write txn */
        if ((r >> 4) % 3 == 0) {
            end_both(x, (r >> 6) % 4 != 0);
            if (begin_both(x)) {
                fprintf(stderr, "\n  every %ld: cannot begin: %s\n", every, ent_errmsg());
                x->bad = 1;
            }
            check_same(x, "begin");
        }
        break;
    default: break;
    }
}

static void every_nth_run(long n, uint64_t seed, long steps, long *calls, long *nomem, long *failed)
{
    run x;
    ent_backend_opts o = {0};
    memset(&x, 0, sizeof x);
    x.rnd = seed;
    o.durability = ENT__DUR_NONE;
    every = n;
    count = failed_n = 0;
    ENT_OK_(B->open(&x.f.be, "", &o));
    ENT_OK_(B->open(&x.r.be, "", &o));
    ENT_OK_(begin_both(&x));
    for (long i = 0; i < steps && !x.bad; i++) step(&x);
    if (!x.bad) end_both(&x, 1);
    else {
        B->txn_abort(x.f.w);
        B->txn_abort(x.r.w);
    }
    /* what was committed, read back in new txns */
    if (!x.bad && !begin_both(&x)) {
        check_same(&x, "the end");
        end_both(&x, 0);
    }
    B->close(x.f.be);
    B->close(x.r.be);
    CU_ASSERT_FALSE(x.bad);
    *calls += x.calls;
    *nomem += x.nomem;
    *failed += failed_n;
    every = 0;
}

static void test_every_nth(void)
{
    long calls = 0, nomem = 0, failed = 0, runs = 0;
    static const long periods[] = {2, 3, 4, 5, 7, 11, 13, 17, 23, 31, 47, 64, 97, 150, 400};
    for (size_t p = 0; p < sizeof periods / sizeof *periods; p++)
        for (uint64_t seed = 1; seed <= 4; seed++) {
            every_nth_run(periods[p], seed * 0x9E3779B97F4A7C15ULL, 1500, &calls, &nomem, &failed);
            runs++;
        }
    printf("\n  %ld runs, %ld calls, %ld failed allocations, %ld calls returned ENT_NOMEM\n", runs, calls, failed, nomem);
    CU_ASSERT(nomem > 1000);
}

/* ---- a real address-space limit ------------------------------------------------------------ */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ENT_NO_RLIMIT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define ENT_NO_RLIMIT 1
#endif
#endif

#ifndef ENT_NO_RLIMIT
/* The child: 0 when it ran out of memory with ENT_NOMEM and a message. */
static int fill_until_nomem(void)
{
    ent_bk *be = NULL;
    ent_btxn *w = NULL;
    ent_backend_opts o = {0};
    unsigned t;
    uint64_t i;
    int rc;
    struct rlimit rl;
    o.durability = ENT__DUR_NONE;
    if (B->open(&be, "", &o) || B->txn_begin(be, 1, &w) || B->table(be, w, "t", ENT_TBL_CREATE, &t)) return 2;
    /* what this process maps now, plus 64 MiB */
    {
        FILE *f = fopen("/proc/self/statm", "r");
        unsigned long pages = 0;
        if (!f || fscanf(f, "%lu", &pages) != 1) return 3;
        fclose(f);
        rl.rlim_cur = rl.rlim_max = pages * (unsigned long)sysconf(_SC_PAGESIZE) + (64ul << 20);
    }
    if (setrlimit(RLIMIT_AS, &rl)) return 4;
    for (i = 0;; i++) {
        char kb[24];
        ent_slice k = {kb, (size_t)snprintf(kb, sizeof kb, "k%016llx", (unsigned long long)i)}, v = {"x", 1};
        if ((rc = B->put(w, t, &k, &v, 0))) break;
        if (i > 100000000) return 5;
    }
    if (rc != ENT_NOMEM || !ent_errmsg()[0]) {
        fprintf(stderr, "put %llu: %d (%s)\n", (unsigned long long)i, rc, ent_errmsg());
        return 6;
    }
    /* the txn still answers, and goes away */
    {
        ent_slice k = {"k0000000000000000", 17}, out;
        if (B->get(w, t, &k, &out) != ENT_OK) return 7;
    }
    B->txn_abort(w);
    B->close(be);
    printf("\n  out of address space after %llu puts: %s\n", (unsigned long long)i, ent_errmsg());
    return 0;
}
#endif

static void test_address_space(void)
{
#ifdef ENT_NO_RLIMIT
    printf("\n  skipped: a sanitizer's shadow memory does not fit under an address-space limit\n");
#else
    int st = 0;
    pid_t pid;
    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        int rc = fill_until_nomem();
        fflush(NULL);
        _exit(rc);
    }
    CU_ASSERT_EQUAL_FATAL(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st)) fprintf(stderr, "\n  the child died of signal %d\n", WTERMSIG(st));
    else if (WEXITSTATUS(st)) fprintf(stderr, "\n  the child exited %d\n", WEXITSTATUS(st));
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
#endif
}

int main(void)
{
    static const ent_test_case cases[] = {ENT_TEST(test_every_nth), ENT_TEST(test_address_space), {NULL, NULL}};
    return ent_test_run("fault_memory", cases);
}
