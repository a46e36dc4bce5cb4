/* The write-ahead file of a durable LMDB store logs every page a commit changed: it works out
 * which from LMDB's free list (pages free before and not after, and pages past the last one), not
 * from LMDB itself, so this checks it against the truth. Around each commit of random work (creates,
 * updates, deletes, values large enough for overflow pages, batches, a reader holding an old
 * snapshot, a lazy handle's unlogged commits between) data.mdb is read whole before and after:
 * every page whose bytes changed must be in the commit's record, with the bytes it has now, and
 * the record's meta page must be the one data.mdb has. A page missed here is a page a power cut
 * could leave old under a meta page that points at it.
 *
 * Also: several processes logging in one file, with a lazy one between them, and the file written
 * over from its start after a checkpoint, each followed by a reboot played on a copy (the records
 * put back over data.mdb); a read-only open that finds records of another boot. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend_lmdb_int.h"
#include "backend_lmdb_wal.h"
#include "bk.h"
#include "dio.h"
#include "store_int.h"
#include "test_rand.h"
#include "test_util.h"
#include "test_reboot.h"

static const char schema_json[] =
    "{\"schema\":\"w\",\"version\":1,\"types\":{\"item\":{\"key\":\"string\",\"fields\":{"
    "\"name\":{\"id\":1,\"type\":\"string\",\"unique\":true},"
    "\"n\":{\"id\":2,\"type\":\"int\",\"indexed\":true},"
    "\"blob\":{\"id\":3,\"type\":\"bytes\"}}}}}";

static char dir[ENT_TEST_PATH_MAX];

typedef struct file {
    unsigned char *b;
    size_t n;
} file;

static void read_all_in(file *f, const char *d, const char *name)
{
    char path[ENT_TEST_PATH_MAX + 16];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", d, name);
    int fd = open(path, O_RDONLY);
    CU_ASSERT_FATAL(fd >= 0 && fstat(fd, &st) == 0);
    f->n = (size_t)st.st_size;
    f->b = realloc(f->b, f->n ? f->n : 1);
    CU_ASSERT_FATAL(f->b != NULL);
    CU_ASSERT_FATAL(pread(fd, f->b, f->n, 0) == (ssize_t)f->n);
    close(fd);
}

static void read_all(file *f, const char *name)
{
    read_all_in(f, dir, name);
}

/* The last record of the header's generation that chains from its base; NULL when none. */
static const unsigned char *last_record(const file *w, wal_rec *out)
{
    wal_hdr h;
    const unsigned char *last = NULL;
    CU_ASSERT_FATAL(w->n >= sizeof h);
    memcpy(&h, w->b, sizeof h);
    uint64_t prev = h.base;
    for (size_t off = REC_START; off + sizeof(wal_rec) <= w->n;) {
        wal_rec r;
        memcpy(&r, w->b + off, sizeof r);
        if (r.magic != REC_MAGIC || r.gen != h.gen || r.prev != prev || r.psize != h.psize) break;
        size_t len = sizeof r + r.npages * sizeof(wal_page) + META_LEN + r.bytes;
        if (off + len > w->n) break;
        *out = r;
        last = w->b + off;
        prev = r.txn;
        off += len;
    }
    return last;
}

static uint64_t u64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static unsigned checked, pages_changed;
static uint64_t kept_bytes, left_out;

/* The last txn data.mdb's meta pages name (the larger of the two slots'). */
static uint64_t last_txn(const file *f, size_t ps)
{
    if (f->n < 2 * ps) return 0;
    uint64_t a = u64(f->b + OFF_TXNID), b = u64(f->b + ps + OFF_TXNID);
    return a > b ? a : b;
}

/* data.mdb was `before`; one commit of s since. */
static void check_commit(ent_store *s, const file *before, file *after, file *wal, const char *what)
{
    const lenv *e = ((const lbe *)(const void *)s->bk.be)->e;
    wal_rec r;
    memset(&r, 0, sizeof r);
    read_all(after, "data.mdb");
    read_all(wal, "wal");
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    if (last_txn(before, ps) == last_txn(after, ps)) {
        /* nothing committed (a refused call, an empty batch): nothing written either */
        CU_ASSERT(before->n == after->n && memcmp(before->b, after->b, before->n) == 0);
        return;
    }
    const unsigned char *rec = last_record(wal, &r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rec);
    CU_ASSERT_EQUAL_FATAL(r.psize, ps);
    const unsigned char *ents = rec + sizeof r, *meta = ents + r.npages * sizeof(wal_page), *img = meta + META_LEN;
    /* the record's snapshot is data.mdb's last */
    CU_ASSERT_EQUAL(u64(meta + OFF_TXNID), r.txn);
    CU_ASSERT_FATAL(after->n >= 2 * ps);
    CU_ASSERT(memcmp(after->b + (r.txn & 1) * ps, meta, META_LEN) == 0);
    /* what the record holds is what data.mdb holds; a page's middle is left out only where it
     * lies between the node pointers and the nodes of a branch or leaf page */
    for (uint64_t i = 0; i < r.npages; i++) {
        wal_page pe;
        memcpy(&pe, ents + i * sizeof pe, sizeof pe);
        CU_ASSERT_FATAL((pe.pgno + 1) * ps <= after->n && pe.lo <= pe.hi && pe.hi <= ps);
        const unsigned char *pg = after->b + pe.pgno * ps;
        if (memcmp(pg, img, pe.lo) || memcmp(pg + pe.hi, img + pe.lo, ps - pe.hi)) {
            fprintf(stderr, "%s: page %llu's image in the record is not data.mdb's\n", what, (unsigned long long)pe.pgno);
            CU_FAIL("an image differs");
        }
        if (pe.lo < pe.hi) {
            uint16_t flags, lower, upper;
            memcpy(&flags, pg + PG_FLAGS, 2);
            memcpy(&lower, pg + PG_LOWER, 2);
            memcpy(&upper, pg + PG_UPPER, 2);
            CU_ASSERT((flags & (P_BRANCH | P_LEAF)) && !(flags & (P_OVERFLOW | P_LEAF2)) && lower == pe.lo && upper == pe.hi);
            kept_bytes += pe.lo + ps - pe.hi;
            left_out += pe.hi - pe.lo;
        }
        img += pe.lo + ps - pe.hi;
    }
    /* every page that changed is in it */
    for (size_t pg = 2; (pg + 1) * ps <= after->n; pg++) {
        int changed = (pg + 1) * ps > before->n ? 1 : memcmp(before->b + pg * ps, after->b + pg * ps, ps) != 0;
        if (!changed) continue;
        pages_changed++;
        int found = 0;
        for (uint64_t i = 0; i < r.npages && !found; i++) found = u64(ents + i * sizeof(wal_page)) == pg;
        /* a page past the old end that is all zeros was never written (the file grew sparse) */
        if (!found && (pg + 1) * ps > before->n) {
            int zero = 1;
            for (size_t k = 0; k < ps && zero; k++) zero = after->b[pg * ps + k] == 0;
            found = zero;
        }
        /* a page the commit wrote and freed again (LMDB spills pages of a large txn before
         * its commit): free in the new snapshot, nothing points at it */
        if (!found) found = ent__lmdb_wal_page_free(e, pg);
        if (!found) {
            fprintf(stderr, "%s: page %zu changed and is not in txn %llu's record (%llu pages)\n", what, pg,
                    (unsigned long long)r.txn, (unsigned long long)r.npages);
            CU_FAIL("a changed page is not logged");
            return;
        }
    }
    checked++;
}

static int put_blob(ent_store *s, ent_txn *t, unsigned k, uint64_t *rng, int update, size_t blen)
{
    char key[32], name[48];
    unsigned char *blob = malloc(blen + 1);
    ent_entity *e = NULL;
    int rc;
    for (size_t i = 0; i < blen; i++) blob[i] = (unsigned char)test_rand_next(rng);
    snprintf(key, sizeof key, "k%04u", k);
    snprintf(name, sizeof name, "name-%u-%llu", k, (unsigned long long)(test_rand_next(rng) % 1000000));
    ent_key ek = ent_key_str(key);
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "item")));
    ENT_OK_(ent_entity_set_key(e, &ek));
    ENT_OK_(ent_entity_set_string(e, "name", name));
    ENT_OK_(ent_entity_set_int(e, "n", (int64_t)(test_rand_next(rng) % 100000) - 50000));
    ENT_OK_(ent_entity_set_bytes(e, "blob", blob, blen));
    rc = update ? ent_upsert(s, t, e, ENT_VERSION_ANY) : ent_create(s, t, e);
    ent_entity_free(e);
    free(blob);
    return rc;
}

static int put_item(ent_store *s, ent_txn *t, unsigned k, uint64_t *rng, int update)
{
    size_t blen = test_rand_next(rng) % 4 == 0 ? (size_t)(test_rand_next(rng) % 12000) : (size_t)(test_rand_next(rng) % 300);
    return put_blob(s, t, k, rng, update, blen);
}

/* A create of key k (a number past what the random rounds use) with a value of blen bytes. */
static int put_item_sized(ent_store *s, unsigned k, uint64_t *rng, size_t blen)
{
    return put_blob(s, NULL, 100000 + k, rng, 0, blen);
}

static int del_item(ent_store *s, ent_txn *t, unsigned k)
{
    char key[32];
    snprintf(key, sizeof key, "k%04u", k);
    ent_key ek = ent_key_str(key);
    return ent_delete(s, t, ent_store_type(s, "item"), &ek, ENT_VERSION_ANY);
}

/* One random write of s (a call or a batch of up to 40): its outcome is not the point. */
static void random_write(ent_store *s, uint64_t *rng)
{
    unsigned op = (unsigned)(test_rand_next(rng) % 10), k = (unsigned)(test_rand_next(rng) % 300);
    if (op < 4) put_item(s, NULL, k, rng, 1);
    else if (op < 6) del_item(s, NULL, k);
    else if (op < 7) put_item(s, NULL, k, rng, 0);
    else {
        ent_txn *t = NULL;
        ENT_OK_(ent_txn_begin(&t, s, ENT_TXN_WRITE));
        unsigned n = 1 + (unsigned)(test_rand_next(rng) % 40);
        for (unsigned i = 0; i < n; i++) {
            k = (unsigned)(test_rand_next(rng) % 300);
            if (test_rand_next(rng) % 3) put_item(s, t, k, rng, 1);
            else del_item(s, t, k);
        }
        ENT_OK_(ent_txn_commit(t));
    }
}

/* 1 when the file system of d takes O_DIRECT writes (then records are written so). */
static int direct_io_works(const char *d)
{
    char p[ENT_TEST_PATH_MAX + 16];
    void *b = NULL;
    int ok = 0;
    if (ent_test_fmt(p, sizeof p, "%s/dio-probe", d) || posix_memalign(&b, 4096, 4096)) return 0;
    memset(b, 0, 4096);
    int fd = open(p, O_RDWR | O_CREAT | O_DIRECT, 0644);
    if (fd >= 0) {
        ok = pwrite(fd, b, 4096, 0) == 4096;
        close(fd);
    }
    unlink(p);
    free(b);
    return ok;
}

static void t_every_changed_page_is_logged(void)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL, *lazy = NULL, *reader = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT, lo = ENT_STORE_OPTS_INIT;
    ent_txn *snap = NULL;
    file before = {0}, after = {0}, wal = {0};
    uint64_t rng = getenv("TEST_WAL_SEED") ? strtoull(getenv("TEST_WAL_SEED"), NULL, 10) | 1 : 0x5eed, probs = 9;
    ENT_TEST_MKDTEMP(dir, "wal-pages");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    o.durability = ENT_DURABLE;
    lo.durability = ENT_LAZY;
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    ENT_OK_(ent_store_open(&lazy, dir, sc, &lo));
    ENT_OK_(ent_store_open(&reader, dir, sc, &o));
    for (int round = 0; round < 600; round++) {
        char what[64];
        snprintf(what, sizeof what, "round %d", round);
        /* now and then a lazy handle's commit (not logged: the next durable one begins a new
         * generation), and a reader that keeps an old snapshot's pages from being reused */
        if (round % 97 == 50) random_write(lazy, &rng);
        if (round % 150 == 20) ENT_OK_(ent_txn_begin(&snap, reader, ENT_TXN_READ));
        if (round % 150 == 90 && snap) {
            ent_txn_abort(snap);
            snap = NULL;
        }
        read_all(&before, "data.mdb");
        ent__lmdb_wal_no_map = round % 3 == 1; /* a third of the records read their pages with pread */
        random_write(s, &rng);
        check_commit(s, &before, &after, &wal, what);
        if (CU_get_number_of_failures()) break;
    }
    ent__lmdb_wal_no_map = 0;
    CU_ASSERT(ent__lmdb_wal_from_map >= checked / 2); /* the others read their pages with pread */
    /* written directly where the file system lets them be (the suite runs again buffered) */
    if (!ent__lmdb_wal_no_direct && direct_io_works(dir)) CU_ASSERT(ent__lmdb_wal_direct >= checked);
    if (ent__lmdb_wal_no_direct) CU_ASSERT_EQUAL(ent__lmdb_wal_direct, 0);
    if (snap) ent_txn_abort(snap);
    printf("\n  %u commits checked, %u pages changed; of branch and leaf pages %llu bytes logged, %llu unused left out\n",
           checked, pages_changed, (unsigned long long)kept_bytes, (unsigned long long)left_out);
    CU_ASSERT(left_out > 0);
    CU_ASSERT(checked >= 400); /* commits checked (the others were refused calls) */
    CU_ASSERT(pages_changed > 1000); /* the rounds changed pages to check */
    ENT_OK_(ent_store_verify(&probs, s, NULL, NULL));
    CU_ASSERT_EQUAL(probs, 0);
    ent_store_close(reader);
    ent_store_close(lazy);
    ent_store_close(s);
    ent_schema_free(sc);
    free(before.b);
    free(after.b);
    free(wal.b);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

static uint64_t count_in(const char *d)
{
    ent_store *s = NULL;
    uint64_t n = 0, probs = 9;
    ENT_OK_(ent_store_open(&s, d, NULL, NULL));
    if (!s) return 0;
    ENT_OK_(ent_count(&n, s, NULL, ent_store_type(s, "item")));
    ENT_OK_(ent_store_verify(&probs, s, NULL, NULL));
    CU_ASSERT_EQUAL(probs, 0);
    ent_store_close(s);
    return n;
}

/* A durable write transaction that changes nothing: LMDB's commit keeps its txn number, so the
 * record of it would end where the one before it ended. A reboot's replay took such a record for
 * the end of the chain and lost every commit after it (the store then rolled back to a snapshot
 * whose pages had been reused: corrupt). Before the records were written from LMDB's map, such a
 * record failed to be written (a write of its empty last piece was taken for a short write), and
 * the commit was made durable by a checkpoint: a sync of data.mdb for a commit of nothing. */
static void t_commit_that_changes_nothing(void)
{
    char rb[ENT_TEST_PATH_MAX + 16];
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_txn *t = NULL;
    uint64_t rng = 5;
    o.durability = ENT_DURABLE;
    ENT_TEST_MKDTEMP(dir, "wal-empty");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    const lenv *e = ((const lbe *)(const void *)s->bk.be)->e;
    uint64_t gen = 0;
    for (unsigned i = 0; i < 10; i++) {
        ENT_OK_(put_item_sized(s, i, &rng, 100));
        if (i == 0) gen = ent__lmdb_wal_gen(e);
        ENT_OK_(ent_txn_begin(&t, s, ENT_TXN_WRITE));
        ENT_OK_(ent_txn_commit(t));
    }
    /* nothing to log: no checkpoint ended the file's generation either (one did, for a record
     * that could not be written) */
    CU_ASSERT_EQUAL(ent__lmdb_wal_gen(e), gen);
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    ent_test_reboot_copy(dir, rb, 0); /* while open: the file is active */
    ent_store_close(s);
    CU_ASSERT_EQUAL(count_in(rb), 10);
    ent_schema_free(sc);
    ent_test_rm_rf(rb);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* Child: n creates of its own keys (prefix p) through a handle of durability dur, then _exit
 * without closing when die (as a crash would leave the files), else after closing. */
static void child_writes(const char *d, const char *p, int n, ent_durability dur, int die)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    o.durability = dur;
    if (ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w") || ent_store_open(&s, d, sc, &o)) _exit(2);
    for (int i = 0; i < n; i++) {
        char key[32];
        ent_entity *e = NULL;
        snprintf(key, sizeof key, "%s%05d", p, i);
        ent_key k = ent_key_str(key);
        if (ent_entity_new(&e, ent_store_type(s, "item")) || ent_entity_set_key(e, &k) ||
            ent_entity_set_string(e, "name", key) || ent_entity_set_int(e, "n", i) || ent_create(s, NULL, e))
            _exit(3);
        ent_entity_free(e);
    }
    if (die) _exit(0);
    ent_store_close(s);
    ent_schema_free(sc);
    _exit(0);
}

/* Three processes log durable creates in one file at once, a fourth writes through a lazy handle
 * (each of its commits ends the file's generation; the next durable one begins another), and the
 * last of them exits without closing: every create is there, and again after a reboot. */
static void t_processes_share_the_file(void)
{
    static const char *const pre[] = {"a", "b", "c", "L"};
    char rb[ENT_TEST_PATH_MAX + 16];
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    pid_t pid[4];
    ENT_TEST_MKDTEMP(dir, "wal-procs");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o)); /* made, then closed: the children open it */
    ent_store_close(s);
    ent_schema_free(sc);
    fflush(stdout);
    for (int i = 0; i < 4; i++) {
        pid[i] = fork();
        CU_ASSERT_FATAL(pid[i] >= 0);
        if (pid[i] == 0) child_writes(dir, pre[i], i == 3 ? 60 : 300, i == 3 ? ENT_LAZY : ENT_DURABLE, i == 2);
    }
    for (int i = 0; i < 4; i++) {
        int st = 0;
        waitpid(pid[i], &st, 0);
        CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    ent_test_reboot_copy(dir, rb, 0);
    CU_ASSERT_EQUAL(count_in(dir), 960);
    CU_ASSERT_EQUAL(count_in(rb), 960);
    ent_test_rm_rf(rb);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* Records of three processes follow each other in one generation while this process keeps the
 * store open (so that no last close checkpoints it): a record written directly (dio.c) begins
 * inside the block where another process's record ended, and must take that block's start from
 * the file, not from what its own last record left there. A reboot replays the whole chain. */
static void t_processes_alternate_records(void)
{
    static const char *const pre[] = {"a", "b", "c"};
    char rb[ENT_TEST_PATH_MAX + 16];
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    pid_t pid[3];
    ENT_TEST_MKDTEMP(dir, "wal-alternate");
    o.durability = ENT_DURABLE;
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    fflush(stdout);
    for (int i = 0; i < 3; i++) {
        pid[i] = fork();
        CU_ASSERT_FATAL(pid[i] >= 0);
        if (pid[i] == 0) child_writes(dir, pre[i], 300, ENT_DURABLE, 0);
    }
    for (int i = 0; i < 3; i++) {
        int st = 0;
        waitpid(pid[i], &st, 0);
        CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    ent_test_reboot_copy(dir, rb, 0); /* the records are still the store's: nobody checkpointed */
    ent_store_close(s);
    ent_schema_free(sc);
    CU_ASSERT_EQUAL(count_in(rb), 900);
    CU_ASSERT_EQUAL(count_in(dir), 900);
    ent_test_rm_rf(rb);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* A record larger than the staging buffer of direct writes (dio.c: 1 MiB), written in pieces,
 * between small ones that begin and end inside blocks: a reboot replays them all. */
static void t_record_larger_than_staging(void)
{
    char rb[ENT_TEST_PATH_MAX + 16];
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_txn *t = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    uint64_t rng = 11;
    ENT_TEST_MKDTEMP(dir, "wal-large");
    o.durability = ENT_DURABLE;
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    for (unsigned i = 0; i < 5; i++) ENT_OK_(put_item_sized(s, i, &rng, 100 + i * 37));
    ENT_OK_(ent_txn_begin(&t, s, ENT_TXN_WRITE));
    for (unsigned i = 0; i < 250; i++) ENT_OK_(put_blob(s, t, 100100 + i, &rng, 0, 12000)); /* ~3 MiB */
    ENT_OK_(ent_txn_commit(t));
    for (unsigned i = 5; i < 10; i++) ENT_OK_(put_item_sized(s, i, &rng, 100 + i * 37));
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    ent_test_reboot_copy(dir, rb, 0);
    ent_store_close(s);
    ent_schema_free(sc);
    CU_ASSERT_EQUAL(count_in(rb), 260);
    ent_test_rm_rf(rb);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* The offset of record k (0: the first) of the generation the header of wal file path names, or
 * 0 when the chain is shorter. */
static uint64_t record_at(const char *path, unsigned k)
{
    wal_hdr h;
    wal_rec r;
    uint64_t off = REC_START, prev;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h) k = UINT32_MAX;
    for (prev = h.base; k != UINT32_MAX && pread(fd, &r, sizeof r, (off_t)off) == (ssize_t)sizeof r &&
                        r.magic == REC_MAGIC && r.gen == h.gen && r.prev == prev;
         prev = r.txn, k--) {
        if (!k) {
            close(fd);
            return off;
        }
        off += sizeof r + r.npages * sizeof(wal_page) + META_LEN + r.bytes;
    }
    close(fd);
    return 0;
}

/* Flip the byte at off of file path. */
static void flip_byte(const char *path, uint64_t off)
{
    unsigned char c = 0;
    int fd = open(path, O_RDWR);
    CU_ASSERT_FATAL(fd >= 0 && pread(fd, &c, 1, (off_t)off) == 1);
    c ^= 0x5a;
    CU_ASSERT_FATAL(pwrite(fd, &c, 1, (off_t)off) == 1);
    close(fd);
}

/* A store of 120 durable creates, each its own record, as the next boot finds it (rb). */
static void store_to_reboot(const char *d, const char *rb)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    uint64_t rng = 21;
    o.durability = ENT_DURABLE;
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, d, sc, &o));
    for (unsigned i = 0; i < 120; i++) ENT_OK_(put_item_sized(s, i, &rng, 150 + i % 50));
    ent_test_reboot_copy(d, rb, 0);
    ent_store_close(s);
    ent_schema_free(sc);
}

/* A file written before the seed (format 2: header seed 0, records checksummed unseeded), as the
 * next boot finds it: XXH3 with seed 0 is the unseeded hash, so its records are put back. */
static void t_unseeded_file_of_before(void)
{
    char rb[ENT_TEST_PATH_MAX + 16], walp[ENT_TEST_PATH_MAX + 16];
    ENT_TEST_MKDTEMP(dir, "wal-unseeded");
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    CU_ASSERT_FATAL(ent_test_fmt(walp, sizeof walp, "%s/wal", rb) == 0);
    store_to_reboot(dir, rb);
    int fd = open(walp, O_RDWR);
    wal_hdr h;
    wal_rec r;
    unsigned n = 0;
    CU_ASSERT_FATAL(fd >= 0 && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h);
    CU_ASSERT(h.seed != 0);
    for (uint64_t off = REC_START, prev = h.base; pread(fd, &r, sizeof r, (off_t)off) == (ssize_t)sizeof r &&
                                               r.magic == REC_MAGIC && r.gen == h.gen && r.prev == prev;
         prev = r.txn, n++) {
        size_t body = (size_t)(r.npages * sizeof(wal_page) + META_LEN + r.bytes);
        unsigned char *b = malloc(body);
        CU_ASSERT_FATAL(b && pread(fd, b, body, (off_t)(off + sizeof r)) == (ssize_t)body);
        r.csum = 0;
        XXH3_state_t *x = XXH3_createState();
        XXH3_64bits_reset(x);
        XXH3_64bits_update(x, &r, sizeof r);
        XXH3_64bits_update(x, b, body);
        r.csum = XXH3_64bits_digest(x);
        XXH3_freeState(x);
        free(b);
        CU_ASSERT_FATAL(pwrite(fd, &r, sizeof r, (off_t)off) == (ssize_t)sizeof r);
        off += sizeof r + body;
    }
    CU_ASSERT(n >= 120);
    h.seed = 0;
    h.csum = 0;
    h.csum = XXH3_64bits(&h, sizeof h);
    CU_ASSERT_FATAL(pwrite(fd, &h, sizeof h, 0) == (ssize_t)sizeof h);
    close(fd);
    CU_ASSERT_EQUAL(count_in(rb), 120);
    ent_test_rm_rf(rb);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* A record in the middle of the chain damaged after it was written (a flipped byte in its images,
 * or in its header, whose length is then unknown): the records after it cannot be put back, and
 * a power cut cannot leave a good record three txns past a bad one. The open is refused naming
 * the file, with data.mdb untouched; it put back the records before the damage and dropped the
 * rest without a word (every commit after it lost, data.mdb maybe damaged). Damage to one of the
 * last two records is what a power cut leaves: they are dropped, the rest put back. */
static void t_record_damaged_mid_chain(void)
{
    char rb[ENT_TEST_PATH_MAX + 16], walp[ENT_TEST_PATH_MAX + 16];
    file before = {0}, after = {0};
    ENT_TEST_MKDTEMP(dir, "wal-damaged");
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    CU_ASSERT_FATAL(ent_test_fmt(walp, sizeof walp, "%s/wal", rb) == 0);
    for (int where = 0; where < 3; where++) {
        ent_store *s = NULL;
        if (where) CU_ASSERT_FATAL(ent_test_rm_rf(dir) == 0 && mkdir(dir, 0755) == 0);
        store_to_reboot(dir, rb);
        uint64_t off = record_at(walp, 60);
        CU_ASSERT_FATAL(off != 0);
        /* 0: an image byte; 1: the header's gen (the record's length is then not trusted); 2: the
         * last record but one, which a power cut may leave torn */
        if (where == 2) {
            unsigned n = 0;
            while (record_at(walp, n)) n++;
            off = record_at(walp, n - 2);
        }
        CU_ASSERT_FATAL(off != 0);
        flip_byte(walp, where == 1 ? off + 8 : off + sizeof(wal_rec) + sizeof(wal_page) + META_LEN + 5);
        read_all_in(&before, rb, "data.mdb");
        int rc = ent_store_open(&s, rb, NULL, NULL);
        if (where < 2) {
            CU_ASSERT_EQUAL(rc, ENT_CORRUPT);
            CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "write-ahead file is damaged"));
            CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "txn"));
            read_all_in(&after, rb, "data.mdb");
            CU_ASSERT(before.n == after.n && !memcmp(before.b, after.b, before.n)); /* nothing written */
            if (s) ent_store_close(s);
        } else {
            CU_ASSERT_EQUAL(rc, ENT_OK);
            if (s) ent_store_close(s);
            CU_ASSERT_EQUAL(count_in(rb), 118); /* the last two dropped */
        }
    }
    free(before.b);
    free(after.b);
    ent_test_rm_rf(rb);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* A header damaged after it was written: taken for no header, every record after it was dropped
 * without a word and data.mdb opened as the disk held it. Refused now, naming the file and what
 * to do; a store closed before the damage opens once its wal is moved away, whole. A header of a
 * newer format is named as such; a new, empty file is no damage. */
static void t_header_damaged(void)
{
    char rb[ENT_TEST_PATH_MAX + 16], walp[ENT_TEST_PATH_MAX + 16], moved[ENT_TEST_PATH_MAX + 32];
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ENT_TEST_MKDTEMP(dir, "wal-hdr");
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    CU_ASSERT_FATAL(ent_test_fmt(walp, sizeof walp, "%s/wal", rb) == 0);
    store_to_reboot(dir, rb);
    flip_byte(walp, 20); /* the base */
    CU_ASSERT_EQUAL(ent_store_open(&s, rb, NULL, NULL), ENT_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "header"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "damaged"));
    o.read_only = 1;
    CU_ASSERT_EQUAL(ent_store_open(&s, rb, NULL, &o), ENT_CORRUPT);
    o.read_only = 0;
    /* closed cleanly (nothing to put back), then damaged: moving the file away opens it whole */
    ENT_OK_(ent_store_open(&s, dir, NULL, NULL));
    ent_store_close(s);
    CU_ASSERT_FATAL(ent_test_fmt(walp, sizeof walp, "%s/wal", dir) == 0);
    flip_byte(walp, 20);
    CU_ASSERT_EQUAL(ent_store_open(&s, dir, NULL, NULL), ENT_CORRUPT);
    CU_ASSERT_FATAL(ent_test_fmt(moved, sizeof moved, "%s-wal-moved", dir) == 0);
    CU_ASSERT_FATAL(rename(walp, moved) == 0);
    CU_ASSERT_EQUAL(count_in(dir), 120);
    unlink(moved);
    /* a newer format */
    {
        wal_hdr h;
        int fd = open(walp, O_RDWR);
        CU_ASSERT_FATAL(fd >= 0 && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h);
        h.version = WAL_VERSION + 1;
        h.csum = 0;
        h.csum = XXH3_64bits(&h, sizeof h);
        CU_ASSERT_FATAL(pwrite(fd, &h, sizeof h, 0) == (ssize_t)sizeof h);
        close(fd);
        CU_ASSERT_EQUAL(ent_store_open(&s, dir, NULL, NULL), ENT_FORMAT);
        CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "newer"));
    }
    /* an empty file (made, never written) */
    CU_ASSERT_FATAL(truncate(walp, 0) == 0);
    CU_ASSERT_EQUAL(count_in(dir), 120);
    ent_schema_free(sc);
    ent_test_rm_rf(rb);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* A file there that a writer cannot open (here a symlink to a directory that does not exist; a
 * file it may not write is the same case): the writer went on without it, its commits unlogged
 * while the file's records might be put back later over them. Refused now, naming the file; a
 * read-only open goes on as before. */
static void t_wal_there_but_unopenable(void)
{
    char walp[ENT_TEST_PATH_MAX + 16];
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    uint64_t rng = 4;
    ENT_TEST_MKDTEMP(dir, "wal-unopenable");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    ENT_OK_(put_item_sized(s, 1, &rng, 100));
    ent_store_close(s);
    CU_ASSERT_FATAL(ent_test_fmt(walp, sizeof walp, "%s/wal", dir) == 0);
    CU_ASSERT_FATAL(unlink(walp) == 0 && symlink("/nonexistent-ent-dir/wal", walp) == 0);
    CU_ASSERT_NOT_EQUAL(ent_store_open(&s, dir, sc, &o), ENT_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "symlink"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), walp));
    o.read_only = 1; /* nor a reader: the file may be on a disk not mounted */
    CU_ASSERT_NOT_EQUAL(ent_store_open(&s, dir, NULL, &o), ENT_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(ent_errmsg(), "symlink"));
    CU_ASSERT_FATAL(unlink(walp) == 0);
    CU_ASSERT_EQUAL(count_in(dir), 1);
    ent_schema_free(sc);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* A write-ahead file that a reader may not read may hold commits data.mdb lacks (after a reboot,
 * every commit since the last checkpoint): the reader is refused rather than answer from
 * data.mdb alone. It read data.mdb as if there were no file. The file is made unreadable to its
 * owner, and read by a child (as root: without the capabilities that read any file; not as
 * another user, who may not reach a scratch directory of mode 0700, as CI's is). */
static void t_wal_unreadable_for_reader(void)
{
    char p[ENT_TEST_PATH_MAX + 16];
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    uint64_t rng = 6;
    ENT_TEST_MKDTEMP(dir, "wal-unreadable");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    ENT_OK_(put_item_sized(s, 1, &rng, 100));
    ent_store_close(s);
    /* everything else readable and writable (LMDB's reader needs lock.mdb) */
    static const char *const names[] = {"data.mdb", "lock.mdb", "notify", "wal"};
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_FATAL(ent_test_fmt(p, sizeof p, "%s/%s", dir, names[i]) == 0);
        if (access(p, F_OK) == 0) CU_ASSERT_FATAL(chmod(p, i == 3 ? 0 : 0666) == 0);
    }
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        ent_store *ro = NULL;
        ent_store_opts roo = ENT_STORE_OPTS_INIT;
        roo.read_only = 1;
        if (geteuid() == 0) { /* root reads any file: without its two capabilities that let it */
            struct __user_cap_header_struct ch = {_LINUX_CAPABILITY_VERSION_3, 0};
            struct __user_cap_data_struct cd[2];
            if (syscall(SYS_capget, &ch, cd) != 0) _exit(3);
            cd[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
            if (syscall(SYS_capset, &ch, cd) != 0) _exit(3);
        }
        int rc = ent_store_open(&ro, dir, NULL, &roo);
        if (rc == ENT_OK) {
            ent_store_close(ro);
            _exit(1);
        }
        if (rc != ENT_READONLY || !strstr(ent_errmsg(), "may not read")) fprintf(stderr, "reader: %d %s\n", rc, ent_errmsg());
        _exit(rc == ENT_READONLY && strstr(ent_errmsg(), "may not read") && strstr(ent_errmsg(), "/wal") ? 0 : 2);
    }
    int st = 0;
    CU_ASSERT_FATAL(waitpid(pid, &st, 0) == pid);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CU_ASSERT_FATAL(ent_test_fmt(p, sizeof p, "%s/wal", dir) == 0);
    CU_ASSERT_FATAL(chmod(p, 0644) == 0);
    CU_ASSERT_EQUAL(count_in(dir), 1); /* nothing was lost */
    ent_schema_free(sc);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* A child that reads the store as a user without the rights to write its files: as root, without
 * the capabilities that pass over a file's mode (as t_wal_unreadable_for_reader). Exit 0 when a
 * read-only open gives `want` items (want < 0: when it is refused naming `hint`). */
static int read_as_other(const char *d, int want, const char *hint)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        ent_store *ro = NULL;
        ent_store_opts roo = ENT_STORE_OPTS_INIT;
        uint64_t n = 0;
        roo.read_only = 1;
        if (geteuid() == 0) {
            struct __user_cap_header_struct ch = {_LINUX_CAPABILITY_VERSION_3, 0};
            struct __user_cap_data_struct cd[2];
            if (syscall(SYS_capget, &ch, cd) != 0) _exit(3);
            cd[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
            if (syscall(SYS_capset, &ch, cd) != 0) _exit(3);
        }
        int rc = ent_store_open(&ro, d, NULL, &roo);
        if (rc != ENT_OK) {
            if (want >= 0 || !strstr(ent_errmsg(), hint)) fprintf(stderr, "reader: %d %s\n", rc, ent_errmsg());
            _exit(want < 0 && strstr(ent_errmsg(), hint) ? 0 : 2);
        }
        rc = ent_count(&n, ro, NULL, ent_store_type(ro, "item"));
        if (rc != ENT_OK || (int)n != want) fprintf(stderr, "reader: %d %s, %llu items\n", rc, ent_errmsg(), (unsigned long long)n);
        ent_store_close(ro);
        _exit(rc == ENT_OK && (int)n == want ? 0 : 1);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A store made read-only by hand (`chmod -R a-w backup/`: its directory and every file, a
 * common guard for a backup) could not be read at all, by its owner neither: LMDB's reader takes
 * a slot in lock.mdb, which it may not write (or make, where the copy has none). A read-only
 * open reads it without the lock file (as on a read-only mount) when nobody may write data.mdb
 * and no process has the store open; a data.mdb someone may write, or a store open in another
 * process, is still refused, with the way to read it named. */
static void t_read_only_copy_reads(void)
{
    char p[ENT_TEST_PATH_MAX + 16];
    ent_store *s = NULL, *held = NULL;
    ent_schema *sc = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    uint64_t rng = 7;
    static const char *const names[] = {"data.mdb", "lock.mdb", "notify", "wal", "writer.lock"};
    ENT_TEST_MKDTEMP(dir, "read-only-copy");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    ENT_OK_(put_item_sized(s, 1, &rng, 100));
    ENT_OK_(put_item_sized(s, 2, &rng, 100));
    ent_store_close(s);
    for (int no_lock = 0; no_lock < 2; no_lock++) {
        if (no_lock) { /* a copy of data.mdb alone (and the rest but lock.mdb) */
            CU_ASSERT_FATAL(ent_test_fmt(p, sizeof p, "%s/lock.mdb", dir) == 0);
            CU_ASSERT_FATAL(unlink(p) == 0);
        }
        for (int i = 0; i < 5; i++) {
            CU_ASSERT_FATAL(ent_test_fmt(p, sizeof p, "%s/%s", dir, names[i]) == 0);
            if (access(p, F_OK) == 0) CU_ASSERT_FATAL(chmod(p, 0444) == 0);
        }
        CU_ASSERT_FATAL(chmod(dir, 0555) == 0);
        CU_ASSERT_EQUAL(read_as_other(dir, 2, NULL), 0);
        /* data.mdb that its owner may write: a writer may come, and this reader would have no slot */
        CU_ASSERT_FATAL(ent_test_fmt(p, sizeof p, "%s/data.mdb", dir) == 0);
        CU_ASSERT_FATAL(chmod(p, 0644) == 0);
        CU_ASSERT_EQUAL(read_as_other(dir, -1, "nobody may write (chmod a-w: a backup) is read without it"), 0);
        CU_ASSERT_FATAL(chmod(p, 0444) == 0);
        CU_ASSERT_FATAL(chmod(dir, 0755) == 0);
    }
    /* open in another process (here: this one, which may write lock.mdb) */
    o.read_only = 1;
    ENT_OK_(ent_store_open(&held, dir, NULL, &o));
    CU_ASSERT_FATAL(ent_test_fmt(p, sizeof p, "%s/lock.mdb", dir) == 0);
    CU_ASSERT_FATAL(chmod(p, 0444) == 0);
    CU_ASSERT_FATAL(chmod(dir, 0555) == 0);
    CU_ASSERT_EQUAL(read_as_other(dir, -1, "lock.mdb is not writable by this user"), 0);
    ent_store_close(held);
    CU_ASSERT_EQUAL(read_as_other(dir, 2, NULL), 0); /* closed: read again */
    CU_ASSERT_FATAL(chmod(dir, 0755) == 0);
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_FATAL(ent_test_fmt(p, sizeof p, "%s/%s", dir, names[i]) == 0);
        if (access(p, F_OK) == 0) CU_ASSERT_FATAL(chmod(p, 0644) == 0);
    }
    CU_ASSERT_EQUAL(count_in(dir), 2);
    ent_schema_free(sc);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* A store read without LMDB's lock file (t_read_only_copy_reads) has no reader slot: a writer
 * that starts while the read goes on (root, who writes a file of no write bit, or its owner after
 * `chmod u+w`) sees no reader and reuses the pages the reader's snapshot still holds. Here a
 * child reads a long scan in one read txn while its parent opens the store to write, replaces
 * every item over many commits, and closes; the child then reads on. Every item it reads must be
 * whole (its name says its key) and the scan must count the snapshot's items: before the writer's
 * open was refused it read the writer's pages (items of other keys, a short count, ENT_CORRUPT). */
static void t_lockless_reader_vs_writer(void)
{
    char p[ENT_TEST_PATH_MAX + 16];
    ent_store *s = NULL;
    ent_schema *sc = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    uint64_t rng = 11;
    enum { N = 400 };
    static const char *const names[] = {"data.mdb", "lock.mdb", "notify", "wal", "writer.lock"};
    int go[2], done[2];
    ENT_TEST_MKDTEMP(dir, "lockless-writer");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    for (unsigned i = 0; i < N; i++) ENT_OK_(put_item_sized(s, i, &rng, 300));
    ent_store_close(s);
    s = NULL;
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_FATAL(ent_test_fmt(p, sizeof p, "%s/%s", dir, names[i]) == 0);
        if (access(p, F_OK) == 0) CU_ASSERT_FATAL(chmod(p, 0444) == 0);
    }
    CU_ASSERT_FATAL(chmod(dir, 0555) == 0);
    CU_ASSERT_FATAL(pipe(go) == 0 && pipe(done) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        ent_store *ro = NULL;
        ent_store_opts roo = ENT_STORE_OPTS_INIT;
        ent_txn *t = NULL;
        ent_iter *it = NULL;
        ent_entity *en = NULL;
        unsigned n = 0, bad = 0;
        char c = 0;
        int rc;
        roo.read_only = 1;
        close(go[0]);
        close(done[1]);
        if (geteuid() == 0) {
            struct __user_cap_header_struct ch = {_LINUX_CAPABILITY_VERSION_3, 0};
            struct __user_cap_data_struct cd[2];
            if (syscall(SYS_capget, &ch, cd) != 0) _exit(3);
            cd[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
            if (syscall(SYS_capset, &ch, cd) != 0) _exit(3);
        }
        if ((rc = ent_store_open(&ro, dir, NULL, &roo)) || (rc = ent_txn_begin(&t, ro, ENT_TXN_READ)) ||
            (rc = ent_scan(&it, ro, t, ent_store_type(ro, "item"), NULL, NULL))) {
            fprintf(stderr, "reader: %d %s\n", rc, ent_errmsg());
            _exit(4);
        }
        while ((rc = ent_iter_next(&en, it)) == ENT_OK) {
            ent_key k = ent_entity_key(en);
            const char *name = NULL;
            size_t len = 0;
            char want[48];
            snprintf(want, sizeof want, "name-%.*s-", (int)(k.len > 1 ? k.len - 1 : 0), k.str + 1);
            if (ent_entity_get_string(&name, &len, en, "name") || len < strlen(want) || memcmp(name, want, strlen(want)))
                bad++;
            ent_entity_free(en);
            if (++n == N / 4) { /* the writer's turn, then read on in the same snapshot */
                if (write(go[1], "g", 1) != 1 || read(done[0], &c, 1) != 1) _exit(5);
            }
        }
        if (rc != ENT_NOTFOUND || n != N || bad) fprintf(stderr, "reader: %d %s; %u items, %u torn\n", rc, ent_errmsg(), n, bad);
        ent_iter_free(it);
        ent_txn_abort(t);
        ent_store_close(ro);
        _exit(rc == ENT_NOTFOUND && n == N && !bad ? 0 : 1);
    }
    close(go[1]);
    close(done[0]);
    char c = 0;
    CU_ASSERT_FATAL(read(go[0], &c, 1) == 1);
    /* the writer: its owner makes the files writable again (root would need no chmod) */
    CU_ASSERT_FATAL(chmod(dir, 0755) == 0);
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_FATAL(ent_test_fmt(p, sizeof p, "%s/%s", dir, names[i]) == 0);
        if (access(p, F_OK) == 0) CU_ASSERT_FATAL(chmod(p, 0644) == 0);
    }
    int rc = ent_store_open(&s, dir, NULL, &o);
    if (rc == ENT_OK) {
        for (int round = 0; round < 6; round++)
            for (unsigned i = 0; i < N; i++) {
                if (round % 2 == 0) del_item(s, NULL, 100000 + i); /* k1xxxxx */
                else put_item_sized(s, i, &rng, 300);
                put_blob(s, NULL, 200000 + i + (unsigned)round * 1000, &rng, 1, 300);
            }
        ent_store_close(s);
    } else if (rc != ENT_BUSY) {
        fprintf(stderr, "writer: %d %s\n", rc, ent_errmsg());
    }
    /* refused while a reader without a slot reads: it would reuse the pages the reader holds */
    CU_ASSERT_EQUAL(rc, ENT_BUSY);
    CU_ASSERT(rc == ENT_OK || strstr(ent_errmsg(), "without LMDB's lock file") != NULL);
    CU_ASSERT_FATAL(write(done[1], "d", 1) == 1);
    int st = 0;
    CU_ASSERT_FATAL(waitpid(pid, &st, 0) == pid);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (!WIFEXITED(st)) fprintf(stderr, "reader: signal %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    close(go[0]);
    close(done[1]);
    /* once the reader is gone the store opens to write */
    ENT_OK_(ent_store_open(&s, dir, NULL, &o));
    /* A read-only copy made after a power cut, records still to put back: read without them,
     * data.mdb alone would answer from before the last commits. Refused, naming the way. */
    o.durability = ENT_DURABLE;
    ent_store_close(s);
    ENT_OK_(ent_store_open(&s, dir, NULL, &o));
    for (unsigned i = 0; i < 20; i++) ENT_OK_(put_item_sized(s, 500 + i, &rng, 300));
    CU_ASSERT_FATAL(ent_test_fmt(p, sizeof p, "%s-reboot", dir) == 0);
    ent_test_reboot_copy(dir, p, 0);
    ent_store_close(s);
    char q[ENT_TEST_PATH_MAX + 32];
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_FATAL(ent_test_fmt(q, sizeof q, "%s/%s", p, names[i == 0 ? 0 : 3]) == 0);
        CU_ASSERT_FATAL(chmod(q, 0444) == 0);
    }
    CU_ASSERT_FATAL(chmod(p, 0555) == 0);
    CU_ASSERT_EQUAL(read_as_other(p, -1, "must be put back from its write-ahead file first"), 0);
    CU_ASSERT_FATAL(chmod(p, 0755) == 0);
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_FATAL(ent_test_fmt(q, sizeof q, "%s/%s", p, names[i == 0 ? 0 : 3]) == 0);
        CU_ASSERT_FATAL(chmod(q, 0644) == 0);
    }
    CU_ASSERT_EQUAL(count_in(p), N + 20); /* put back by a reader that may write */
    CU_ASSERT_EQUAL(ent_test_rm_rf(p), 0);
    ent_schema_free(sc);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* A value that holds bytes shaped as a record of the file (an archived copy of a write-ahead
 * file: generations are small counters every store shares; or bytes crafted by whoever may
 * write values) is logged inside the images of its commit's record. When a power cut leaves that
 * record short (one of the last two: here its header), the byte-by-byte search for a later
 * record (later_record) must not take the value's bytes for a record of the chain: the last
 * record is dropped and the rest put back, as for any other value. Refused as damage now. */
static void t_value_shaped_as_record(void)
{
    char rb[ENT_TEST_PATH_MAX + 16], walp[ENT_TEST_PATH_MAX + 16];
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_entity *e = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    uint64_t rng = 31;
    wal_hdr h;
    enum { BLEN = 12000, AT = 5000 };
    unsigned char *blob = malloc(BLEN);
    CU_ASSERT_FATAL(blob != NULL);
    ENT_TEST_MKDTEMP(dir, "wal-shaped");
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    CU_ASSERT_FATAL(ent_test_fmt(walp, sizeof walp, "%s/wal", dir) == 0);
    o.durability = ENT_DURABLE;
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    for (unsigned i = 0; i < 5; i++) ENT_OK_(put_item_sized(s, i, &rng, 200));
    int fd = open(walp, O_RDONLY);
    CU_ASSERT_FATAL(fd >= 0 && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h);
    close(fd);
    /* the value: random bytes with a record of this generation at AT, far past the chain's end */
    for (size_t i = 0; i < BLEN; i++) blob[i] = (unsigned char)test_rand_next(&rng);
    {
        wal_rec r = {REC_MAGIC, h.psize, h.gen, ((uint64_t)1 << 40) - 1, (uint64_t)1 << 40, 0, 0, 0};
        unsigned char meta[META_LEN];
        uint64_t magic = MDB_MAGIC_V, txn = r.txn;
        memset(meta, 0, sizeof meta);
        memcpy(meta + OFF_MAGIC, &magic, 8);
        memcpy(meta + OFF_TXNID, &txn, 8);
        XXH3_state_t *xs = XXH3_createState();
        CU_ASSERT_FATAL(xs != NULL);
        XXH3_64bits_reset(xs);
        XXH3_64bits_update(xs, &r, sizeof r);
        XXH3_64bits_update(xs, meta, sizeof meta);
        r.csum = XXH3_64bits_digest(xs);
        XXH3_freeState(xs);
        memcpy(blob + AT, &r, sizeof r);
        memcpy(blob + AT + sizeof r, meta, sizeof meta);
    }
    ent_key ek = ent_key_str("shaped");
    ENT_OK_(ent_entity_new(&e, ent_store_type(s, "item")));
    ENT_OK_(ent_entity_set_key(e, &ek));
    ENT_OK_(ent_entity_set_string(e, "name", "shaped"));
    ENT_OK_(ent_entity_set_bytes(e, "blob", blob, BLEN));
    ENT_OK_(ent_create(s, NULL, e));
    ent_entity_free(e);
    ent_test_reboot_copy(dir, rb, 0);
    ent_store_close(s);
    ent_schema_free(sc);
    /* the power cut left the last record's header short */
    CU_ASSERT_FATAL(ent_test_fmt(walp, sizeof walp, "%s/wal", rb) == 0);
    unsigned n = 0;
    while (record_at(walp, n)) n++;
    CU_ASSERT_FATAL(n >= 2);
    flip_byte(walp, record_at(walp, n - 1) + 8);
    ent_store *r2 = NULL;
    int rc = ent_store_open(&r2, rb, NULL, NULL);
    if (rc) printf("\n  open: %s\n", ent_errmsg());
    CU_ASSERT_EQUAL(rc, ENT_OK);
    if (r2) ent_store_close(r2);
    if (rc == ENT_OK) CU_ASSERT_EQUAL(count_in(rb), 5); /* the last commit dropped, the rest put back */
    free(blob);
    ent_test_rm_rf(rb);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* The generation the write-ahead file's header names (0: unreadable). */
static uint64_t wal_gen(const char *d)
{
    char p[ENT_TEST_PATH_MAX + 16];
    wal_hdr h;
    int fd;
    if (ent_test_fmt(p, sizeof p, "%s/wal", d) || (fd = open(p, O_RDONLY)) < 0) return 0;
    ssize_t n = pread(fd, &h, sizeof h, 0);
    close(fd);
    return n == (ssize_t)sizeof h ? h.gen : 0;
}

/* A file system that takes O_DIRECT at the open but refuses the writes (EINVAL): each record is
 * written buffered instead, and nothing is lost after a reboot. */
static void t_direct_writes_refused(void)
{
    char rb[ENT_TEST_PATH_MAX + 16];
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    uint64_t rng = 5, direct;
    ENT_TEST_MKDTEMP(dir, "wal-refused");
    o.durability = ENT_DURABLE;
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ent__dio_refuse = 1;
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    direct = ent__lmdb_wal_direct;
    ENT_OK_(put_item_sized(s, 0, &rng, 200));
    uint64_t gen = wal_gen(dir);
    for (unsigned i = 1; i < 50; i++) ENT_OK_(put_item_sized(s, i, &rng, i % 7 ? 200 : 9000));
    CU_ASSERT_EQUAL(ent__lmdb_wal_direct, direct); /* none written directly */
    CU_ASSERT_EQUAL(wal_gen(dir), gen);            /* but logged: no commit fell back to a checkpoint */
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    ent_test_reboot_copy(dir, rb, 0);
    ent_store_close(s);
    ent_schema_free(sc);
    ent__dio_refuse = 0;
    CU_ASSERT_EQUAL(count_in(rb), 50);
    ent_test_rm_rf(rb);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* Past WAL_CKPT_BYTES of records a checkpoint starts the file over from its start: records of
 * the new generation overwrite the old ones' blocks, and a reboot replays only the new. */
static void t_file_written_over(void)
{
    char rb[ENT_TEST_PATH_MAX + 16], path[ENT_TEST_PATH_MAX + 16];
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    struct stat st;
    uint64_t rng = 77, n = 0, gen0 = 0;
    wal_hdr h;
    ENT_TEST_MKDTEMP(dir, "wal-over");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    CU_ASSERT_FATAL(ent_test_fmt(path, sizeof path, "%s/wal", dir) == 0);
    int fd = open(path, O_RDONLY);
    CU_ASSERT_FATAL(fd >= 0 && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h);
    gen0 = h.gen;
    /* 12 KB values: each create logs a few overflow pages; until the generation moves twice */
    for (unsigned i = 0; i < 200000 && h.gen < gen0 + 2; i++) {
        ENT_OK_(put_item_sized(s, i, &rng, 12000));
        n++;
        CU_ASSERT_FATAL(pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h);
    }
    CU_ASSERT(h.gen >= gen0 + 2);
    CU_ASSERT(fstat(fd, &st) == 0 && (uint64_t)st.st_size < 2 * WAL_CKPT_BYTES); /* written over, not grown */
    close(fd);
    for (int i = 0; i < 20; i++) ENT_OK_(put_item_sized(s, (unsigned)n++, &rng, 12000)); /* records of the new generation */
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    ent_test_reboot_copy(dir, rb, 0);
    ent_store_close(s);
    ent_schema_free(sc);
    CU_ASSERT_EQUAL(count_in(rb), n);
    ent_test_rm_rf(rb);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

static void copy_file(const char *from, const char *to)
{
    char buf[65536];
    ssize_t n;
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CU_ASSERT_FATAL(in >= 0 && out >= 0);
    while ((n = read(in, buf, sizeof buf)) > 0) CU_ASSERT_FATAL(write(out, buf, (size_t)n) == n);
    close(in);
    close(out);
}

/* After a reboot, several processes open the store at once (a server's workers started
 * together), readers and writers: one of them puts the records back, the others wait for it and
 * then read every commit; none is refused as busy. */
static void t_openers_after_reboot(void)
{
    enum { PROCS = 6 };
    char rb[ENT_TEST_PATH_MAX + 16];
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    uint64_t rng = 9;
    pid_t pid[PROCS];
    ENT_TEST_MKDTEMP(dir, "wal-openers");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    for (unsigned i = 0; i < 40; i++) ENT_OK_(put_item_sized(s, i, &rng, 300));
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    ent_test_reboot_copy(dir, rb, 0);
    fflush(NULL);
    for (int i = 0; i < PROCS; i++) {
        pid[i] = fork();
        CU_ASSERT_FATAL(pid[i] >= 0);
        if (pid[i] == 0) {
            ent_store *c = NULL;
            ent_store_opts co = ENT_STORE_OPTS_INIT;
            uint64_t n = 0;
            co.read_only = i & 1;
            int rc = ent_store_open(&c, rb, NULL, &co);
            if (rc != ENT_OK) {
                fprintf(stderr, "opener %d: %d %s\n", i, rc, ent_errmsg());
                _exit(1);
            }
            rc = ent_count(&n, c, NULL, ent_store_type(c, "item"));
            ent_store_close(c);
            _exit(rc == ENT_OK && n == 40 ? 0 : 2);
        }
    }
    for (int i = 0; i < PROCS; i++) {
        int st = 0;
        CU_ASSERT_FATAL(waitpid(pid[i], &st, 0) == pid[i]);
        CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CU_ASSERT_EQUAL(count_in(rb), 40);
    ent_store_close(s);
    ent_schema_free(sc);
    ent_test_rm_rf(rb);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* After a reboot, a read-only open puts the records back when it may write the store's files
 * (as SQLite's reader rolls back a hot journal), and reads every durable commit; one that may not
 * is refused, naming what to do, with nothing read from data.mdb alone. A clean close leaves
 * nothing to put back. */
static void t_read_only_after_reboot(void)
{
    char rb[ENT_TEST_PATH_MAX + 16], from[ENT_TEST_PATH_MAX + 16], to[ENT_TEST_PATH_MAX + 32], old[ENT_TEST_PATH_MAX + 16];
    ent_schema *sc = NULL;
    ent_store *s = NULL, *ro = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT, roo = ENT_STORE_OPTS_INIT;
    uint64_t rng = 5, n = 0, probs = 9;
    roo.read_only = 1;
    ENT_TEST_MKDTEMP(dir, "wal-ro");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    for (unsigned i = 0; i < 30; i++) ENT_OK_(put_item_sized(s, i, &rng, 100));
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    /* a reader that may not write the files (a read-only mount, another user's store) */
    ent_test_reboot_copy(dir, rb, 0); /* while open: the file is active */
    ent__lmdb_wal_ro_cannot_write = 1;
    ENT_CHECK_RC(ent_store_open(&ro, rb, NULL, &roo), ENT_READONLY);
    ent__lmdb_wal_ro_cannot_write = 0;
    ENT_ASSERT_MSG("open it once with write access");
    ENT_ASSERT_MSG("/wal");
    CU_ASSERT_EQUAL(count_in(rb), 30); /* a writer's open puts them back */
    ENT_OK_(ent_store_open(&ro, rb, NULL, &roo));
    ent_store_close(ro);
    /* A reader that may: the records put back over a data.mdb as the disk held it (the last
     * close's checkpoint synced it; nothing after it was), every commit read. Without them it
     * would count 30. */
    ent_store_close(s); /* the last close: a checkpoint ends the file's generation */
    CU_ASSERT_FATAL(ent_test_fmt(from, sizeof from, "%s/data.mdb", dir) == 0);
    CU_ASSERT_FATAL(ent_test_fmt(old, sizeof old, "%s-old.mdb", dir) == 0);
    copy_file(from, old);
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    for (unsigned i = 30; i < 60; i++) ENT_OK_(put_item_sized(s, i, &rng, 100));
    ent_test_rm_rf(rb);
    ent_test_reboot_copy(dir, rb, 0);
    CU_ASSERT_FATAL(ent_test_fmt(to, sizeof to, "%s/data.mdb", rb) == 0);
    copy_file(old, to);
    ENT_OK_(ent_store_open(&ro, rb, NULL, &roo));
    if (ro) {
        ENT_OK_(ent_count(&n, ro, NULL, ent_store_type(ro, "item")));
        CU_ASSERT_EQUAL(n, 60);
        ENT_OK_(ent_store_verify(&probs, ro, NULL, NULL));
        CU_ASSERT_EQUAL(probs, 0);
        ent_store_close(ro);
    }
    CU_ASSERT_EQUAL(count_in(rb), 60); /* and a writer after it finds the store whole */
    ent_store_close(s);
    unlink(old);
    ent_test_rm_rf(rb);
    ent_test_reboot_copy(dir, rb, 0);
    ENT_OK_(ent_store_open(&ro, rb, NULL, &roo));
    ent_store_close(ro);
    ent_schema_free(sc);
    ent_test_rm_rf(rb);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* Where the boot id cannot be read (no /proc), every open of an active file counts as after a
 * reboot, and the shared state in the notify page is keyed by an empty boot id that every boot
 * shares. A writer dies (its file active, its shared state left as it was), a reader puts the
 * records back (a new generation, inactive), then a writer opens: it took the dead writer's
 * shared state for the file's and logged its durable commits in the old generation, under a
 * header that says inactive, and its last close did not checkpoint either: a power cut lost them
 * all. A recovery by a writer cleared the state at its attach; a reader's, which maps no shared
 * state, did not. */
static void t_stale_shared_state_after_reader_recovery(void)
{
    char rb[ENT_TEST_PATH_MAX + 16], from[ENT_TEST_PATH_MAX + 16], to[ENT_TEST_PATH_MAX + 32], old[ENT_TEST_PATH_MAX + 16];
    ent_schema *sc = NULL;
    ent_store *s = NULL, *ro = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT, roo = ENT_STORE_OPTS_INIT;
    uint64_t rng = 8;
    roo.read_only = 1;
    o.durability = ENT_DURABLE;
    ENT_TEST_MKDTEMP(dir, "wal-noboot");
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ent__lmdb_wal_boot_unknown = 1;
    fflush(stdout);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) child_writes(dir, "a", 20, ENT_DURABLE, 1); /* dies with the file active */
    int st = 0;
    CU_ASSERT_FATAL(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ENT_OK_(ent_store_open(&ro, dir, NULL, &roo)); /* puts the records back */
    if (ro) ent_store_close(ro);
    /* data.mdb as the disk holds it now: the recovery synced it, nothing after it is */
    CU_ASSERT_FATAL(ent_test_fmt(from, sizeof from, "%s/data.mdb", dir) == 0);
    CU_ASSERT_FATAL(ent_test_fmt(old, sizeof old, "%s-old.mdb", dir) == 0);
    copy_file(from, old);
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    for (unsigned i = 0; i < 10; i++) ENT_OK_(put_item_sized(s, i, &rng, 100)); /* durable: acknowledged */
    ent_test_reboot_copy(dir, rb, 0);
    CU_ASSERT_FATAL(ent_test_fmt(to, sizeof to, "%s/data.mdb", rb) == 0);
    copy_file(old, to);
    ent_store_close(s);
    CU_ASSERT_EQUAL(count_in(rb), 30);
    ent__lmdb_wal_boot_unknown = 0;
    unlink(old);
    ent_schema_free(sc);
    ent_test_rm_rf(rb);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* A table of its own in s's backend, then two commits into it whose last sync is left for later
 * (as a group commit leaves it); wid (may be NULL): their txns. */
static void two_unsynced_commits(ent_store *s, const char *table, uint64_t wid[2])
{
    const ent_backend_ops *ops = s->bk.ops;
    ent_btxn *bt = NULL;
    unsigned tbl = 0;
    ENT_OK_(ops->txn_begin(s->bk.be, 1, &bt));
    ENT_OK_(ops->table(s->bk.be, bt, table, ENT_TBL_CREATE, &tbl));
    ENT_OK_(ops->txn_commit(bt));
    for (int i = 0; i < 2; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        ent_slice ks = {(const uint8_t *)k, strlen(k)}, vs = {(const uint8_t *)"v", 1};
        ENT_OK_(ops->txn_begin(s->bk.be, 1, &bt));
        if (wid) wid[i] = ((const ltxn *)(const void *)bt)->wid;
        ENT_OK_(ops->put(bt, tbl, &ks, &vs, 0));
        ENT_OK_(ops->txn_commit_unsynced(bt));
    }
}

/* A txn's pages reach data.mdb before its commit when LMDB spills a large txn's dirty pages: into
 * pages that commit x-1 freed and snapshot x-2 still uses. So a logging txn x begins only once the
 * records through x-2 are durable, not merely its commit: here two commits whose last sync is
 * left for later (as a group commit leaves it), then a third txn. */
static void t_txn_begins_after_x_minus_2(void)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_btxn *bt = NULL;
    o.durability = ENT_DURABLE;
    ENT_TEST_MKDTEMP(dir, "wal-begin");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    const ent_backend_ops *ops = s->bk.ops;
    const lenv *e = ((const lbe *)(const void *)s->bk.be)->e;
    two_unsynced_commits(s, "x_begin", NULL);
    ENT_OK_(ops->txn_begin(s->bk.be, 1, &bt));
    uint64_t x = ((const ltxn *)(const void *)bt)->wid;
    CU_ASSERT(ent__lmdb_wal_synced(e) + 2 >= x);
    ops->txn_abort(bt);
    ENT_OK_(ops->sync(s->bk.be, 0));
    ent_store_close(s);
    ent_schema_free(sc);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* The system's page size as a machine of 64 KiB pages (aarch64, ppc64) says it, while set: LMDB
 * caps its pages at 32 KiB there, and a store made elsewhere keeps the size it was made with. */
static long fake_pagesize;

/* ThreadSanitizer's runtime asks sysconf while it sets itself up: this function then runs before
 * the runtime can take its instrumentation (a function entry, a dlsym interceptor), and crashed the
 * suite there. So it has none, and calls glibc's own name for sysconf rather than a dlsym one. */
extern long __sysconf(int name);

#if defined(__SANITIZE_THREAD__)
#define NO_TSAN __attribute__((no_sanitize_thread))
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NO_TSAN __attribute__((no_sanitize("thread")))
#endif
#endif
#ifndef NO_TSAN
#define NO_TSAN
#endif

NO_TSAN long sysconf(int name)
{
    if (name == _SC_PAGESIZE && fake_pagesize) return fake_pagesize;
    return __sysconf(name);
}

/* The file logs LMDB's pages, whose size is not the system's here: durable commits are logged (not
 * refused as a damaged meta page), and put back after a reboot, where the size is the system's. */
static void t_lmdb_page_size_not_the_systems(void)
{
    char rb[ENT_TEST_PATH_MAX + 16];
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    uint64_t rng = 9;
    file wal = {0};
    wal_rec r;
    o.durability = ENT_DURABLE;
    ENT_TEST_MKDTEMP(dir, "wal-psize");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    fake_pagesize = 65536;
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    for (unsigned i = 0; i < 20; i++) ENT_OK_(put_item_sized(s, i, &rng, 3000));
    fake_pagesize = 0;
    read_all(&wal, "wal");
    CU_ASSERT(last_record(&wal, &r) != NULL && r.psize == 32768);
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    ent_test_reboot_copy(dir, rb, 0); /* while open: the file is active */
    ent_store_close(s);
    CU_ASSERT_EQUAL(count_in(rb), 20);
    ent_schema_free(sc);
    free(wal.b);
    ent_test_rm_rf(rb);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* A child: _exit(42) once a sync of a file named wal returns (a checkpoint's new header is on the
 * disk, and nothing after it was done). */
static int die_after_wal_sync;
/* The next sync of a file named wal fails with EIO (the kernel then forgets the error: the next
 * sync of the same file succeeds, whatever it could not write). */
static int fail_wal_sync;

static int is_wal(int fd)
{
    char l[64], p[ENT_TEST_PATH_MAX + 16];
    snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(l, p, sizeof p - 1);
    return n >= 4 && !memcmp(p + n - 4, "/wal", 4);
}


/* While set: the next sync of a file named wal fails (EIO), and before it returns another thread
 * syncs the same file (ent__lmdb_wal_sync of txn inside_txn): a sync of another thread that runs
 * between the kernel's failure and the failed call's return. The failing call lets it run for up
 * to 300 ms (it ends at once unless something holds it back), then returns. */
static lenv *_Atomic inside_e;
static uint64_t inside_txn;
static int inside_rc;
static sem_t inside_done;

static void *sync_inside(void *arg)
{
    lenv *e = arg;
    inside_rc = ent__lmdb_wal_sync(e, ent__lmdb_wal_gen(e), inside_txn);
    sem_post(&inside_done);
    return NULL;
}
static pthread_t inside_thread;

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "fdatasync");
    if (fail_wal_sync && is_wal(fd)) {
        fail_wal_sync = 0;
        errno = EIO;
        return -1;
    }
    lenv *ie = inside_e;
    if (ie && is_wal(fd)) {
        inside_e = NULL;
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_nsec += 300000000;
        if (dl.tv_nsec >= 1000000000) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000;
        }
        CU_ASSERT_FATAL(pthread_create(&inside_thread, NULL, sync_inside, ie) == 0);
        while (sem_timedwait(&inside_done, &dl) && errno == EINTR) {
        }
        errno = EIO;
        return -1;
    }
    int rc = real(fd);
    if (die_after_wal_sync && is_wal(fd)) _exit(42);
    return rc;
}

/* The path of descriptor fd ends with name. */
static int is_named(int fd, const char *name)
{
    char l[64], p[ENT_TEST_PATH_MAX + 16];
    size_t k = strlen(name);
    snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(l, p, sizeof p - 1);
    return n >= (ssize_t)k && !memcmp(p + n - k, name, k);
}

/* While eio_wal_n > 0: a read of a file named wal (eio_file: another name) that covers one of the
 * first eio_wal_n offsets of eio_wal_at fails with EIO (bad sectors). */
static uint64_t eio_wal_at[2];
static int eio_wal_n;
static const char *eio_file = "/wal";

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    static ssize_t (*real)(int, void *, size_t, off_t);
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "pread");
    for (int i = 0; i < eio_wal_n; i++)
        if ((uint64_t)off <= eio_wal_at[i] && eio_wal_at[i] < (uint64_t)off + n && is_named(fd, eio_file)) {
            errno = EIO;
            return -1;
        }
    return real(fd, buf, n, off);
}

/* A read of the file that fails at recovery (EIO in a record mid-chain) is not the end of the
 * chain: the records after it were dropped without a word, the new generation written over them,
 * so that every commit after the bad read was lost for good even once the read works again. The
 * open is refused (ENT_IO) with nothing written; once the file reads, every commit is put back. */
static void t_read_error_at_recovery(void)
{
    char rb[ENT_TEST_PATH_MAX + 16], walp[ENT_TEST_PATH_MAX + 16];
    file before = {0}, after = {0};
    ent_store *s = NULL;
    ENT_TEST_MKDTEMP(dir, "wal-eio");
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    CU_ASSERT_FATAL(ent_test_fmt(walp, sizeof walp, "%s/wal", rb) == 0);
    store_to_reboot(dir, rb);
    uint64_t off = record_at(walp, 60);
    CU_ASSERT_FATAL(off != 0);
    read_all_in(&before, rb, "data.mdb");
    eio_wal_at[0] = off + sizeof(wal_rec) + sizeof(wal_page) + META_LEN + 5;
    eio_wal_n = 1;
    int rc = ent_store_open(&s, rb, NULL, NULL);
    eio_wal_n = 0;
    CU_ASSERT_EQUAL(rc, ENT_IO);
    if (s) ent_store_close(s);
    s = NULL;
    read_all_in(&after, rb, "data.mdb");
    CU_ASSERT(before.n == after.n && !memcmp(before.b, after.b, before.n)); /* nothing written */
    CU_ASSERT_EQUAL(count_in(rb), 120);
    free(before.b);
    free(after.b);
    ent_test_rm_rf(rb);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* The header unreadable (EIO), and the first record's block too: taken for a file never written,
 * the open went on without the records (data.mdb as the last checkpoint left it), and the first
 * checkpoint wrote a header of generation 1 over them. Refused with ENT_IO, for writers and
 * readers. Once the file reads, every commit is put back. */
static void t_header_read_error(void)
{
    char rb[ENT_TEST_PATH_MAX + 16], from[ENT_TEST_PATH_MAX + 16], to[ENT_TEST_PATH_MAX + 32], old[ENT_TEST_PATH_MAX + 16];
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT, roo = ENT_STORE_OPTS_INIT;
    uint64_t rng = 12;
    o.durability = ENT_DURABLE;
    roo.read_only = 1;
    ENT_TEST_MKDTEMP(dir, "wal-hdr-eio");
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    CU_ASSERT_FATAL(ent_test_fmt(from, sizeof from, "%s/data.mdb", dir) == 0);
    CU_ASSERT_FATAL(ent_test_fmt(old, sizeof old, "%s-old.mdb", dir) == 0);
    CU_ASSERT_FATAL(ent_test_fmt(to, sizeof to, "%s/data.mdb", rb) == 0);
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    ENT_OK_(put_item_sized(s, 0, &rng, 100));
    ent_store_close(s); /* the last close's checkpoint: data.mdb as the disk holds it */
    copy_file(from, old);
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    for (unsigned i = 1; i < 40; i++) ENT_OK_(put_item_sized(s, i, &rng, 100));
    ent_test_reboot_copy(dir, rb, 0);
    copy_file(old, to);
    ent_store_close(s);
    eio_wal_at[0] = 20;
    eio_wal_at[1] = REC_START + 2;
    for (int ro = 0; ro < 2; ro++) {
        eio_wal_n = 2;
        int rc = ent_store_open(&s, rb, NULL, ro ? &roo : NULL);
        eio_wal_n = 0;
        CU_ASSERT_EQUAL(rc, ENT_IO);
        if (s) ent_store_close(s);
        s = NULL;
    }
    CU_ASSERT_EQUAL(count_in(rb), 40);
    unlink(old);
    ent_schema_free(sc);
    ent_test_rm_rf(rb);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* data.mdb's meta pages unreadable (EIO) when the recovery checks that it is the one the file's
 * generation began on: taken for a data.mdb put back from a backup, refused as ENT_CORRUPT with
 * the advice to move wal away, which loses every commit since the last checkpoint. A read error
 * is ENT_IO, nothing written; once it reads, every commit is put back. */
static void t_data_read_error_at_recovery(void)
{
    char rb[ENT_TEST_PATH_MAX + 16];
    file before = {0}, after = {0};
    ent_store *s = NULL;
    wal_hdr h;
    char walp[ENT_TEST_PATH_MAX + 16];
    ENT_TEST_MKDTEMP(dir, "wal-data-eio");
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    CU_ASSERT_FATAL(ent_test_fmt(walp, sizeof walp, "%s/wal", rb) == 0);
    store_to_reboot(dir, rb);
    int fd = open(walp, O_RDONLY);
    CU_ASSERT_FATAL(fd >= 0 && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h);
    close(fd);
    read_all_in(&before, rb, "data.mdb");
    eio_file = "/data.mdb";
    eio_wal_at[0] = OFF_TXNID;
    eio_wal_at[1] = (uint64_t)h.psize + OFF_TXNID;
    eio_wal_n = 2;
    int rc = ent_store_open(&s, rb, NULL, NULL);
    eio_wal_n = 0;
    eio_file = "/wal";
    if (rc != ENT_IO) printf("\n  open: %d %s\n", rc, ent_errmsg());
    CU_ASSERT_EQUAL(rc, ENT_IO);
    if (s) ent_store_close(s);
    read_all_in(&after, rb, "data.mdb");
    CU_ASSERT(before.n == after.n && !memcmp(before.b, after.b, before.n)); /* nothing written */
    CU_ASSERT_EQUAL(count_in(rb), 120);
    free(before.b);
    free(after.b);
    ent_test_rm_rf(rb);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* A checkpoint whose shared state is unknown (a sync of the file failed) takes the generation from
 * the header; a header it could not read (EIO) made it generation 1 again. Generations only grow:
 * the start of a direct write's first block is kept by (generation, offset) (dio.c), so a process
 * whose last record was of the first generation took its stale bytes for a record of the new
 * one ending there. The commit is refused instead (or numbered past the header's). */
static void t_checkpoint_header_read_error(void)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    uint64_t rng = 14;
    o.durability = ENT_DURABLE;
    ENT_TEST_MKDTEMP(dir, "wal-ckpt-eio");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    for (unsigned i = 0; i < 3; i++) { /* each last close a checkpoint: a generation past 1 */
        ENT_OK_(ent_store_open(&s, dir, sc, &o));
        ENT_OK_(put_item_sized(s, i, &rng, 100));
        ent_store_close(s);
    }
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    ENT_OK_(put_item_sized(s, 3, &rng, 100));
    uint64_t g0 = wal_gen(dir);
    CU_ASSERT(g0 > 1);
    fail_wal_sync = 1; /* the shared state unknown: the next write txn begins with a checkpoint */
    put_item_sized(s, 4, &rng, 100);
    fail_wal_sync = 0;
    eio_wal_at[0] = 20;
    eio_wal_n = 1;
    int rc = put_item_sized(s, 5, &rng, 100);
    eio_wal_n = 0;
    uint64_t g1 = wal_gen(dir);
    CU_ASSERT(rc != ENT_OK || g1 > g0);
    if (rc == ENT_OK && g1 <= g0) printf("\n  generation %llu after %llu\n", (unsigned long long)g1, (unsigned long long)g0);
    ENT_OK_(put_item_sized(s, 6, &rng, 100)); /* once the header reads again */
    CU_ASSERT(wal_gen(dir) > g0);
    ent_store_close(s);
    ent_schema_free(sc);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* A lazy writer that finds the file active ends it with a checkpoint, and is killed once the new
 * header (inactive, the next generation) is on the disk: the shared state must not still say
 * active, else the next durable commit is logged in the old generation, which a reboot ignores
 * under that header. The commit must be covered by what a reboot reads: the header's base, or a
 * record of its generation. */
static void t_checkpoint_killed_after_its_header(void)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    uint64_t rng = 11;
    file wal = {0};
    wal_rec r;
    wal_hdr h;
    o.durability = ENT_DURABLE;
    ENT_TEST_MKDTEMP(dir, "wal-ckpt-kill");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    for (unsigned i = 0; i < 5; i++) ENT_OK_(put_item_sized(s, i, &rng, 200)); /* the file is active */
    fflush(stdout);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        die_after_wal_sync = 1;
        child_writes(dir, "z", 1, ENT_LAZY, 0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CU_ASSERT_FATAL(WIFEXITED(st) && WEXITSTATUS(st) == 42);
    ENT_OK_(put_item_sized(s, 5, &rng, 200)); /* durable: acknowledged */
    ent_txn *rt = NULL;
    ENT_OK_(ent_txn_begin(&rt, s, ENT_TXN_READ));
    uint64_t x = ent__bk_snapshot_id(rt);
    ent_txn_abort(rt);
    read_all(&wal, "wal");
    memcpy(&h, wal.b, sizeof h);
    const unsigned char *last = last_record(&wal, &r);
    CU_ASSERT(h.base >= x || (h.active && last && r.txn >= x));
    ent_store_close(s);
    ent_schema_free(sc);
    free(wal.b);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* Two commits logged, their syncs left for later (a group commit's): the first one's sync fails.
 * The second's then succeeds, yet the record before it may be gone: it must not say the second
 * commit is durable unless something else made it so (a checkpoint: data.mdb synced past it). */
static void t_sync_after_a_failed_one(void)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    uint64_t x[2] = {0, 0};
    file wal = {0};
    wal_hdr h;
    o.durability = ENT_DURABLE;
    ENT_TEST_MKDTEMP(dir, "wal-sync-fail");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    const ent_backend_ops *ops = s->bk.ops;
    lenv *e = ((lbe *)(void *)s->bk.be)->e;
    two_unsynced_commits(s, "sync_fail", x);
    fail_wal_sync = 1;
    CU_ASSERT_EQUAL(ent__lmdb_wal_sync(e, ent__lmdb_wal_gen(e), x[0]), EIO); /* the first one's committer */
    int rc = ops->sync(s->bk.be, 0); /* the second one's: this thread's last commit */
    read_all(&wal, "wal");
    memcpy(&h, wal.b, sizeof h);
    CU_ASSERT(rc != ENT_OK || h.base >= x[1]);
    ent_store_close(s);
    ent_schema_free(sc);
    free(wal.b);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* Two commits logged, their syncs left for later (a group commit's): the first one's sync fails,
 * and while its call has not yet returned, another thread syncs for the second (the kernel told
 * the error to the first call only: the second's fdatasync succeeds). The second marked its
 * records durable before the first had marked the state unknown, the record it could not write
 * perhaps gone: it must not say the second commit is durable unless something else made it so
 * (a checkpoint: data.mdb synced past it). */
static void t_sync_while_a_failed_one_returns(void)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    uint64_t x[2] = {0, 0};
    file wal = {0};
    wal_hdr h;
    o.durability = ENT_DURABLE;
    ENT_TEST_MKDTEMP(dir, "wal-sync-inside");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    lenv *e = ((lbe *)(void *)s->bk.be)->e;
    two_unsynced_commits(s, "sync_inside", x);
    CU_ASSERT_FATAL(sem_init(&inside_done, 0, 0) == 0);
    inside_txn = x[1];
    inside_rc = 12345;
    inside_e = e;
    CU_ASSERT_EQUAL(ent__lmdb_wal_sync(e, ent__lmdb_wal_gen(e), x[0]), EIO); /* the first one's committer */
    CU_ASSERT_PTR_NULL(inside_e); /* the other thread's sync ran */
    pthread_join(inside_thread, NULL);
    sem_destroy(&inside_done);
    CU_ASSERT_NOT_EQUAL(inside_rc, 12345);
    read_all(&wal, "wal");
    memcpy(&h, wal.b, sizeof h);
    CU_ASSERT(inside_rc != 0 || h.base >= x[1]);
    ent_store_close(s);
    ent_schema_free(sc);
    free(wal.b);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* Txn x waits as it begins for the records through x-2 to be durable (wait_durable_before); its
 * sync of the file would succeed, but another thread's sync failed just before it (the kernel
 * tells the error once, and may have dropped the records it could not write). The txn went on
 * calling them durable, and a large one spills pages over what snapshot x-2 needs before anything
 * made x-2 durable. It must not begin unless something else did (a checkpoint: data.mdb synced).
 * (The failed sync ran inside this one's fdatasync once; a process's syncs are one at a time now,
 * t_sync_while_a_failed_one_returns.) */
static void t_begin_after_a_failed_sync_beside(void)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    uint64_t x[2] = {0, 0};
    file wal = {0};
    wal_hdr h;
    o.durability = ENT_DURABLE;
    ENT_TEST_MKDTEMP(dir, "wal-sync-beside");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    const ent_backend_ops *ops = s->bk.ops;
    lenv *e = ((lbe *)(void *)s->bk.be)->e;
    ent_btxn *bt = NULL;
    two_unsynced_commits(s, "sync_beside", x);
    fail_wal_sync = 1;
    CU_ASSERT_EQUAL(ent__lmdb_wal_sync(e, ent__lmdb_wal_gen(e), x[0]), EIO); /* x[0]'s committer */
    int rc = ops->txn_begin(s->bk.be, 1, &bt); /* txn x[1] + 1: waits for x[0] */
    read_all(&wal, "wal");
    memcpy(&h, wal.b, sizeof h);
    CU_ASSERT(rc != ENT_OK || h.base >= x[0]);
    if (rc == ENT_OK) ops->txn_abort(bt);
    ent_store_close(s);
    ent_schema_free(sc);
    free(wal.b);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* data.mdb put back from a backup (or another store's) beside a file whose generation began after
 * it: a reboot must not splice the records' pages into it. The open is refused, naming what to
 * do, and writes nothing; with the file moved away the backup opens as it was. */
static void t_older_data_mdb_is_refused(void)
{
    char rb[ENT_TEST_PATH_MAX + 16], from[ENT_TEST_PATH_MAX + 32], to[ENT_TEST_PATH_MAX + 32];
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    uint64_t rng = 11;
    file backup = {0}, after = {0};
    ENT_TEST_MKDTEMP(dir, "wal-lineage");
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    for (unsigned i = 0; i < 10; i++) ENT_OK_(put_item_sized(s, i, &rng, 100));
    ent_store_close(s); /* a checkpoint: data.mdb alone holds the 10 */
    read_all(&backup, "data.mdb");
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    for (unsigned i = 10; i < 40; i++) ENT_OK_(put_item_sized(s, i, &rng, 3000));
    ent_store_close(s);
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    for (unsigned i = 40; i < 70; i++) ENT_OK_(put_item_sized(s, i, &rng, 3000));
    CU_ASSERT_FATAL(ent_test_fmt(rb, sizeof rb, "%s-reboot", dir) == 0);
    ent_test_reboot_copy(dir, rb, 0); /* while open: the file is active, based after the 40th */
    ent_store_close(s);
    /* the backup in place of the copy's data.mdb */
    CU_ASSERT_FATAL(ent_test_fmt(to, sizeof to, "%s/data.mdb", rb) == 0);
    int fd = open(to, O_WRONLY | O_TRUNC);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, backup.b, backup.n) == (ssize_t)backup.n);
    close(fd);
    ENT_CHECK_RC(ent_store_open(&s, rb, NULL, &o), ENT_CORRUPT);
    ENT_ASSERT_MSG("data.mdb was replaced");
    ENT_ASSERT_MSG("/wal away");
    CU_ASSERT_PTR_NULL(s);
    /* nothing written: the backup is as it was */
    fd = open(to, O_RDONLY);
    CU_ASSERT_FATAL(fd >= 0);
    after.n = backup.n;
    after.b = malloc(after.n + 1);
    CU_ASSERT_FATAL(after.b != NULL);
    CU_ASSERT_EQUAL(read(fd, after.b, after.n + 1), (ssize_t)backup.n);
    close(fd);
    CU_ASSERT(memcmp(after.b, backup.b, backup.n) == 0);
    /* as the message says: without the file, the backup's 10 */
    CU_ASSERT_FATAL(ent_test_fmt(from, sizeof from, "%s/wal", rb) == 0);
    CU_ASSERT_FATAL(ent_test_fmt(to, sizeof to, "%s/wal.moved", rb) == 0);
    CU_ASSERT_EQUAL_FATAL(rename(from, to), 0);
    CU_ASSERT_EQUAL(count_in(rb), 10);
    ent_schema_free(sc);
    free(backup.b);
    free(after.b);
    ent_test_rm_rf(rb);
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

/* Store dir's reboot copy (into out) after 10 creates of blen bytes, a close and one more create. */
static void one_after_close(const char *out, size_t blen, uint64_t seed)
{
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ENT_OK_(ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w"));
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    for (unsigned i = 0; i < 10; i++) ENT_OK_(put_item_sized(s, i, &seed, blen));
    ent_store_close(s);
    ENT_OK_(ent_store_open(&s, dir, sc, &o));
    ENT_OK_(put_item_sized(s, 10, &seed, blen));
    ent_test_reboot_copy(dir, out, 0);
    ent_store_close(s);
    ent_schema_free(sc);
    ent_test_rm_rf(dir);
}

/* Another store's file, begun at the same txn: its base's meta page says other tables. */
static void t_other_stores_file_is_refused(void)
{
    char a[ENT_TEST_PATH_MAX + 16], b[ENT_TEST_PATH_MAX + 16], from[ENT_TEST_PATH_MAX + 32], to[ENT_TEST_PATH_MAX + 32];
    file before = {0}, after = {0};
    ent_store *s = NULL;
    ENT_TEST_MKDTEMP(dir, "wal-other");
    CU_ASSERT_FATAL(ent_test_fmt(a, sizeof a, "%s-a", dir) == 0);
    CU_ASSERT_FATAL(ent_test_fmt(b, sizeof b, "%s-b", dir) == 0);
    one_after_close(a, 100, 1);
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755), 0);
    one_after_close(b, 3000, 2);
    CU_ASSERT_FATAL(ent_test_fmt(from, sizeof from, "%s/wal", a) == 0);
    CU_ASSERT_FATAL(ent_test_fmt(to, sizeof to, "%s/wal", b) == 0);
    CU_ASSERT_EQUAL_FATAL(rename(from, to), 0);
    CU_ASSERT_FATAL(ent_test_fmt(dir, sizeof dir, "%s", b) == 0);
    read_all(&before, "data.mdb");
    ENT_CHECK_RC(ent_store_open(&s, b, NULL, NULL), ENT_CORRUPT);
    ENT_ASSERT_MSG("another store's");
    read_all(&after, "data.mdb");
    CU_ASSERT(after.n == before.n && memcmp(after.b, before.b, before.n) == 0);
    free(before.b);
    free(after.b);
    ent_test_rm_rf(a);
    CU_ASSERT_EQUAL(ent_test_rm_rf(b), 0);
}

/* A process that forks a child which never execs, then dies in a durable write txn (killed while
 * it holds the write-ahead file's log lock): the child's copy of the file's descriptor must not
 * keep that lock, or every writer of the store waits for the child's exit. Also writer.lock and
 * the notify file's slots, the same kind of lock. */
static void t_forked_child_keeps_no_lock(void)
{
    int ready[2];
    pid_t p, q, g = -1;
    int st = 0, done = 0;
    ENT_TEST_MKDTEMP(dir, "wal-fork");
    CU_ASSERT_EQUAL_FATAL(pipe(ready), 0);
    p = fork();
    CU_ASSERT_FATAL(p >= 0);
    if (p == 0) {
        ent_schema *sc = NULL;
        ent_store *s = NULL;
        ent_txn *t = NULL;
        ent_store_opts o = ENT_STORE_OPTS_INIT;
        uint64_t rng = 3;
        close(ready[0]);
        if (ent_schema_load_json(&sc, schema_json, strlen(schema_json), "w") || ent_store_open(&s, dir, sc, &o)) _exit(2);
        if (put_item_sized(s, 1, &rng, 100)) _exit(3);
        pid_t c = fork(); /* a child that never execs: it sleeps until it is killed */
        if (c == 0) {
            for (;;) pause();
        }
        if (c < 0 || ent_txn_begin(&t, s, ENT_TXN_WRITE) || put_blob(s, t, 100002, &rng, 0, 100)) _exit(4);
        if (write(ready[1], &c, sizeof c) != (ssize_t)sizeof c) _exit(5);
        for (;;) pause(); /* killed here, holding the writer and the log lock */
    }
    close(ready[1]);
    CU_ASSERT_FATAL(read(ready[0], &g, sizeof g) == (ssize_t)sizeof g);
    close(ready[0]);
    kill(p, SIGKILL);
    waitpid(p, &st, 0);
    /* another process writes durably while the child lives */
    q = fork();
    CU_ASSERT_FATAL(q >= 0);
    if (q == 0) child_writes(dir, "q", 3, ENT_DURABLE, 0);
    for (int i = 0; i < 3000 && !done; i++) { /* 30 s at most: a guard against hanging, not a timing */
        struct timespec ms = {0, 10000000};
        if (waitpid(q, &st, WNOHANG) == q) done = 1;
        else nanosleep(&ms, NULL);
    }
    if (!done) {
        kill(q, SIGKILL);
        waitpid(q, &st, 0);
    }
    CU_ASSERT(done && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    kill(g, SIGKILL);
    CU_ASSERT_EQUAL(count_in(dir), 4); /* 1, then the killed txn's none, then q's 3 */
    CU_ASSERT_EQUAL(ent_test_rm_rf(dir), 0);
}

int main(void)
{
    /* ENT_TEST_WAL_BUFFERED: every record written through the page cache, as where O_DIRECT is
     * refused (the suite runs both ways) */
    if (getenv("ENT_TEST_WAL_BUFFERED")) ent__lmdb_wal_no_direct = 1;
    static const ent_test_case cases[] = {
        ENT_TEST(t_every_changed_page_is_logged),
        ENT_TEST(t_commit_that_changes_nothing),
        ENT_TEST(t_processes_share_the_file),
        ENT_TEST(t_processes_alternate_records),
        ENT_TEST(t_direct_writes_refused),
        ENT_TEST(t_record_larger_than_staging),
        ENT_TEST(t_unseeded_file_of_before),
        ENT_TEST(t_record_damaged_mid_chain),
        ENT_TEST(t_header_damaged),
        ENT_TEST(t_value_shaped_as_record),
        ENT_TEST(t_wal_there_but_unopenable),
        ENT_TEST(t_wal_unreadable_for_reader),
        ENT_TEST(t_file_written_over),
        ENT_TEST(t_read_only_after_reboot),
        ENT_TEST(t_openers_after_reboot),
        ENT_TEST(t_stale_shared_state_after_reader_recovery),
        ENT_TEST(t_txn_begins_after_x_minus_2),
        ENT_TEST(t_lmdb_page_size_not_the_systems),
        ENT_TEST(t_checkpoint_killed_after_its_header),
        ENT_TEST(t_sync_after_a_failed_one),
        ENT_TEST(t_sync_while_a_failed_one_returns),
        ENT_TEST(t_begin_after_a_failed_sync_beside),
        ENT_TEST(t_read_error_at_recovery),
        ENT_TEST(t_header_read_error),
        ENT_TEST(t_data_read_error_at_recovery),
        ENT_TEST(t_checkpoint_header_read_error),
        ENT_TEST(t_older_data_mdb_is_refused),
        ENT_TEST(t_other_stores_file_is_refused),
        ENT_TEST(t_forked_child_keeps_no_lock),
        ENT_TEST(t_read_only_copy_reads),
        ENT_TEST(t_lockless_reader_vs_writer),
        {NULL, NULL},
    };
    return ent_test_run("wal_pages", cases);
}
