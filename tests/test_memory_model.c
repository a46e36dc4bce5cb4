/* The memory backend against a model, with readers beside the writer.
 *
 * The writer keeps its new nodes out of the trees (at most PEND_MAX, inserted in its next exclusive
 * section), links and unlinks its versions without the tree lock and retires the ones it replaces
 * (backend_memory.c). Every look-up of its own must still find what it wrote, and a reader must
 * still see exactly the snapshot it began with. So a seeded random run of transactions (puts,
 * deletes, gets, cursor scans, clears, one-level savepoints kept or undone, a table made in the
 * transaction, commits and aborts; a plain and a DUPSORT table, keys enough to exceed PEND_MAX
 * and grow the hash) checks every answer against a model, and reader threads scan their snapshot
 * twice per transaction: both scans must be equal and match the state the writer committed under
 * that snapshot's id. Under TSan and ASan it also checks the lock-free writer for races, frees
 * under a reader and leaks. */
#include <pthread.h>
#include <stdio.h>

#include "backend.h"
#include "backend_memory_int.h"
#include "test_util.h"

static const ent_backend_ops *B = &ent__backend_memory;

#define NK 40 /* plain keys */
#define ND 6  /* DUPSORT keys, each with up to ND values */
#define MAXCOMMITS 4096

typedef struct model {
    int has[NK];
    unsigned val[NK];
    unsigned dup[ND]; /* bit j: value j of key i */
} model;

static uint64_t rng = 88172645463325252ull;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* What a full scan of both tables gives, in order, hashed. */
static uint64_t model_hash(const model *m)
{
    uint64_t h = 1469598103934665603ull;
    char k[16], v[16];
    for (int i = 0; i < NK; i++)
        if (m->has[i]) {
            int kl = snprintf(k, sizeof k, "k%03d", i), vl = snprintf(v, sizeof v, "v%u", m->val[i]);
            h = fnv(h, k, (size_t)kl + 1);
            h = fnv(h, v, (size_t)vl + 1);
        }
    h = fnv(h, "|", 1);
    for (int i = 0; i < ND; i++)
        for (int j = 0; j < ND; j++)
            if (m->dup[i] >> j & 1) {
                snprintf(k, sizeof k, "d%d", i);
                snprintf(v, sizeof v, "x%d", j);
                h = fnv(h, k, strlen(k) + 1);
                h = fnv(h, v, strlen(v) + 1);
            }
    return h;
}

/* The same from the backend, through cursors. -1 on a failed call. */
static int scan_hash(ent_btxn *t, unsigned plain, unsigned dup, uint64_t *out)
{
    uint64_t h = 1469598103934665603ull;
    unsigned tabs[2] = {plain, dup};
    for (int i = 0; i < 2; i++) {
        ent_bcur *c = NULL;
        ent_slice k, v;
        int rc;
        if (i) h = fnv(h, "|", 1);
        if (B->cursor_open(t, tabs[i], &c)) return -1;
        for (rc = B->cursor_get(c, ENT_CUR_FIRST, &k, &v); rc == ENT_OK; rc = B->cursor_get(c, ENT_CUR_NEXT, &k, &v)) {
            h = fnv(h, k.data, k.len);
            h = fnv(h, "", 1);
            h = fnv(h, v.data, v.len);
            h = fnv(h, "", 1);
        }
        B->cursor_close(c);
        if (rc != ENT_NOTFOUND) return -1;
    }
    *out = h;
    return 0;
}

/* State committed under each snapshot id (written by the writer before any reader can see it
 * compared: the readers' results are checked after they are joined). */
static uint64_t committed_hash[MAXCOMMITS + 2];
static int committed_known[MAXCOMMITS + 2];

typedef struct reader {
    ent_bk *be;
    unsigned plain, dup;
    int *stop;
    int bad;          /* a snapshot changed under a reader, or a call failed */
    uint64_t ids[256], hashes[256];
    size_t n;
} reader;

static void *read_loop(void *p)
{
    reader *r = p;
    while (!__atomic_load_n(r->stop, __ATOMIC_ACQUIRE)) {
        ent_btxn *t = NULL;
        uint64_t h1, h2;
        if (B->txn_begin(r->be, 0, &t)) {
            r->bad = 1;
            break;
        }
        if (scan_hash(t, r->plain, r->dup, &h1) || scan_hash(t, r->plain, r->dup, &h2) || h1 != h2) r->bad = 1;
        if (r->n < 256 && !r->bad) {
            r->ids[r->n] = B->snapshot_id(t);
            r->hashes[r->n++] = h1;
        }
        B->txn_abort(t);
        if (r->bad) break;
    }
    return NULL;
}

static void kv(char *k, char *v, int i, unsigned val)
{
    snprintf(k, 16, "k%03d", i);
    snprintf(v, 16, "v%u", val);
}

static ent_slice S(const char *s) { return (ent_slice){s, strlen(s)}; }

static void record_commit(ent_bk *be, const model *m)
{
    ent_btxn *r = NULL;
    uint64_t id;
    ENT_OK_(B->txn_begin(be, 0, &r));
    id = B->snapshot_id(r);
    B->txn_abort(r);
    if (id <= MAXCOMMITS + 1) {
        committed_hash[id] = model_hash(m);
        __atomic_store_n(&committed_known[id], 1, __ATOMIC_RELEASE);
    }
}

static void t_random_transactions_against_a_model(void)
{
    ent_bk *be = NULL;
    ent_btxn *t = NULL;
    unsigned plain, dup;
    model cur, txn, sp;
    int stop = 0, mismatches = 0, extra_tables = 0;
    reader rd[2];
    pthread_t th[2];
    char k[16], v[16];
    memset(&cur, 0, sizeof cur);
    ENT_OK_(B->open(&be, NULL, NULL));
    ENT_OK_(B->txn_begin(be, 1, &t));
    ENT_OK_(B->table(be, t, "plain", ENT_TBL_CREATE, &plain));
    ENT_OK_(B->table(be, t, "dup", ENT_TBL_CREATE | ENT_TBL_DUPSORT, &dup));
    ENT_OK_(B->txn_commit(t));
    record_commit(be, &cur);
    for (int i = 0; i < 2; i++) {
        rd[i] = (reader){.be = be, .plain = plain, .dup = dup, .stop = &stop};
        CU_ASSERT_FATAL(pthread_create(&th[i], NULL, read_loop, &rd[i]) == 0);
    }
    for (int round = 0; round < 1500 && !mismatches; round++) {
        int in_sp = 0, nops = 1 + (int)rnd(60);
        unsigned extra = 0;
        int have_extra = 0;
        txn = cur;
        ENT_OK_(B->txn_begin(be, 1, &t));
        for (int op = 0; op < nops && !mismatches; op++) {
            unsigned r = rnd(100);
            int i = (int)rnd(NK), di = (int)rnd(ND), dj = (int)rnd(ND), rc;
            ent_slice ks, vs, got;
            if (r < 35) { /* put */
                unsigned val = rnd(1000);
                kv(k, v, i, val);
                ks = S(k);
                vs = S(v);
                ENT_OK_(B->put(t, plain, &ks, &vs, 0));
                txn.has[i] = 1;
                txn.val[i] = val;
            } else if (r < 47) { /* delete */
                kv(k, v, i, 0);
                ks = S(k);
                rc = B->del(t, plain, &ks, NULL);
                if (rc != (txn.has[i] ? ENT_OK : ENT_NOTFOUND)) mismatches++;
                txn.has[i] = 0;
            } else if (r < 60) { /* get */
                kv(k, v, i, txn.val[i]);
                ks = S(k);
                rc = B->get(t, plain, &ks, &got);
                if (txn.has[i] ? rc != ENT_OK || got.len != strlen(v) || memcmp(got.data, v, got.len) : rc != ENT_NOTFOUND)
                    mismatches++;
            } else if (r < 70) { /* DUPSORT put */
                snprintf(k, sizeof k, "d%d", di);
                snprintf(v, sizeof v, "x%d", dj);
                ks = S(k);
                vs = S(v);
                ENT_OK_(B->put(t, dup, &ks, &vs, 0));
                txn.dup[di] |= 1u << dj;
            } else if (r < 75) { /* DUPSORT delete of a pair */
                snprintf(k, sizeof k, "d%d", di);
                snprintf(v, sizeof v, "x%d", dj);
                ks = S(k);
                vs = S(v);
                rc = B->del(t, dup, &ks, &vs);
                if (rc != (txn.dup[di] >> dj & 1 ? ENT_OK : ENT_NOTFOUND)) mismatches++;
                txn.dup[di] &= ~(1u << dj);
            } else if (r < 77) { /* DUPSORT delete of a key */
                snprintf(k, sizeof k, "d%d", di);
                ks = S(k);
                rc = B->del(t, dup, &ks, NULL);
                if (rc != (txn.dup[di] ? ENT_OK : ENT_NOTFOUND)) mismatches++;
                txn.dup[di] = 0;
            } else if (r < 81) { /* DUPSORT get: the key's first value */
                snprintf(k, sizeof k, "d%d", di);
                ks = S(k);
                rc = B->get(t, dup, &ks, &got);
                if (!txn.dup[di]) {
                    if (rc != ENT_NOTFOUND) mismatches++;
                } else {
                    int j = __builtin_ctz(txn.dup[di]);
                    snprintf(v, sizeof v, "x%d", j);
                    if (rc != ENT_OK || got.len != strlen(v) || memcmp(got.data, v, got.len)) mismatches++;
                }
            } else if (r < 85) { /* the whole view through cursors */
                uint64_t h;
                if (scan_hash(t, plain, dup, &h) || h != model_hash(&txn)) mismatches++;
            } else if (r < 87) { /* a table of its own, written at once */
                if (!have_extra) {
                    char name[32];
                    snprintf(name, sizeof name, "extra%d", extra_tables++);
                    ENT_OK_(B->table(be, t, name, ENT_TBL_CREATE, &extra));
                    have_extra = 1;
                }
                kv(k, v, i, 7);
                ks = S(k);
                vs = S(v);
                ENT_OK_(B->put(t, extra, &ks, &vs, 0));
            } else if (r < 88) { /* clear */
                ENT_OK_(B->clear(t, plain));
                memset(txn.has, 0, sizeof txn.has);
            } else if (r < 94) {
                if (!in_sp) {
                    ENT_OK_(B->sp_begin(t));
                    sp = txn;
                    in_sp = 1;
                }
            } else if (in_sp) {
                int keep = rnd(2);
                ENT_OK_(B->sp_end(t, keep));
                if (!keep) txn = sp;
                in_sp = 0;
            }
        }
        if (rnd(4)) {
            ENT_OK_(B->txn_commit(t));
            cur = txn; /* commit keeps an open savepoint */
            record_commit(be, &cur);
        } else {
            B->txn_abort(t);
        }
        t = NULL;
        {
            ent_btxn *r = NULL;
            uint64_t h;
            ENT_OK_(B->txn_begin(be, 0, &r));
            if (scan_hash(r, plain, dup, &h) || h != model_hash(&cur)) mismatches++;
            B->txn_abort(r);
        }
    }
    CU_ASSERT_EQUAL(mismatches, 0);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(rd[i].bad, 0);
        for (size_t j = 0; j < rd[i].n; j++) {
            uint64_t id = rd[i].ids[j];
            CU_ASSERT(id <= MAXCOMMITS + 1 && committed_known[id]);
            if (id <= MAXCOMMITS + 1 && committed_known[id]) CU_ASSERT_EQUAL(rd[i].hashes[j], committed_hash[id]);
        }
    }
    B->close(be);
}

int main(void)
{
    static const ent_test_case cases[] = {
        ENT_TEST(t_random_transactions_against_a_model),
        {NULL, NULL},
    };
    return ent_test_run("test_memory_model", cases);
}
