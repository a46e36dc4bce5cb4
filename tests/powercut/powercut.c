/* Power-cut test: what a `durable` store promises when the machine (not only the process) stops.
 *
 *   powercut write STORE ACKS THREADS CALLS durable|lazy|mixed   (under LD_PRELOAD=shim, POWERCUT_LOG)
 *   powercut check LOG WORKDIR CUTS SEED durable|lazy|mixed [STORE]
 *
 * mixed: durable, with a quarter of the threads writing through a lazy handle (their calls may be
 * lost, the others' not).
 *
 * `write` runs THREADS threads of single calls without a transaction (so they share group commits)
 * on one store: creates, updates of what the thread created, ent_txn_run() closures creating two
 * entities at once, and now and then a write transaction that changes nothing (a commit with no
 * record); it appends a line to ACKS for every call that returned ENT_OK. The shim records every
 * write and sync of data.mdb and of the write-ahead file (wal), and every acknowledgement, in order.
 *
 * `check` plays the log back and cuts the power at CUTS points (random, and just before and after
 * syncs, where ordering bugs live). At a cut the disk holds what was durable (written before the
 * last sync, or through an O_DSYNC descriptor), and of every 512-byte sector written since, any one
 * of its versions: the durable one, or its content after any later write to it, chosen at random
 * and independently per sector (a drive and the page cache may write back in any order, and tear a
 * page between sectors). Some cuts take every sector's last version, or only the durable ones. The
 * store rebuilt from that disk must open, verify clean (every record decodes, indexes and counts
 * agree, the log has no gap and replays to the records), and, for `durable`, hold every call
 * acknowledged before the cut at its acknowledged version or later. For `lazy` (LMDB NOMETASYNC)
 * only the first two hold: it may lose the last commits, never be corrupt. Given STORE (the writer's),
 * the log played to its end must give its data.mdb byte for byte: nothing was written unseen. */
#define _GNU_SOURCE
#include <entity/entity.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "backend_lmdb_wal.h"
#include "powercut.h"
#include "../test_tmp.h"

#define SECTOR 512

static const char schema_json[] =
    "{\"schema\":\"cut\",\"version\":1,\"types\":{"
    "\"job\":{\"key\":\"string\",\"fields\":{"
    "  \"name\":{\"id\":1,\"type\":\"string\",\"required\":true,\"unique\":true},"
    "  \"bucket\":{\"id\":2,\"type\":\"int\",\"indexed\":true},"
    "  \"body\":{\"id\":3,\"type\":\"string\"}}}}}";

/* ---- write ------------------------------------------------------------------------------------- */

typedef struct wctx {
    ent_store *s;
    const ent_type *job;
    int ack_fd, id;
    unsigned calls, seed;
    int failed;
    int lazy; /* writes through the lazy handle (mode mixed) */
} wctx;

static void ack(wctx *w, const char *line)
{
    char tilde[256];
    if (w->lazy) { /* "~key version": acknowledged by a lazy handle, which may lose it */
        size_t o = 0;
        for (const char *p = line; *p && o + 2 < sizeof tilde;) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
            if (o + 1 + n >= sizeof tilde) break;
            tilde[o++] = '~';
            memcpy(tilde + o, p, n);
            o += n;
            p += n;
        }
        tilde[o] = 0;
        line = tilde;
    }
    size_t n = strlen(line);
    if (write(w->ack_fd, line, n) != (ssize_t)n) w->failed = 1; /* O_APPEND: one line, whole */
}

static ent_entity *job(wctx *w, const char *key)
{
    ent_entity *e = NULL;
    char name[64], body[200];
    ent_key k = ent_key_str(key);
    memset(body, 'a' + w->id % 26, sizeof body - 1);
    body[sizeof body - 1] = 0;
    snprintf(name, sizeof name, "name-%s", key);
    if (ent_entity_new(&e, w->job) || ent_entity_set_key(e, &k) || ent_entity_set_string(e, "name", name) ||
        ent_entity_set_int(e, "bucket", (int64_t)(rand_r(&w->seed) % 1000)) || ent_entity_set_string(e, "body", body)) {
        ent_entity_free(e);
        return NULL;
    }
    return e;
}

typedef struct pair {
    wctx *w;
    char k1[40], k2[40];
} pair;

static int create_pair(ent_txn *t, void *p)
{
    pair *pr = p;
    ent_entity *a = job(pr->w, pr->k1), *b = job(pr->w, pr->k2);
    int rc = a && b ? ENT_OK : ENT_NOMEM;
    if (!rc) rc = ent_create(pr->w->s, t, a);
    if (!rc) rc = ent_create(pr->w->s, t, b);
    ent_entity_free(a);
    ent_entity_free(b);
    return rc;
}

static void *writer(void *p)
{
    wctx *w = p;
    char key[24], last[24] = "", line[128];
    for (unsigned i = 0; i < w->calls && !w->failed; i++) {
        int rc;
        snprintf(key, sizeof key, "t%02d-%05u", w->id, i);
        if (i % 4 == 2 && last[0]) { /* update what this thread created last */
            ent_entity *e = job(w, last);
            rc = e ? ent_update(w->s, NULL, e, 1) : ENT_NOMEM;
            snprintf(line, sizeof line, "%s 2\n", last);
            ent_entity_free(e);
            last[0] = 0;
        } else if (i % 4 == 3) {
            pair pr = {w, "", ""};
            snprintf(pr.k1, sizeof pr.k1, "%sa", key);
            snprintf(pr.k2, sizeof pr.k2, "%sb", key);
            rc = ent_txn_run(w->s, create_pair, &pr);
            snprintf(line, sizeof line, "%s 1\n%s 1\n", pr.k1, pr.k2);
        } else {
            ent_entity *e = job(w, key);
            rc = e ? ENT_OK : ENT_NOMEM;
            if (!rc && i % 8 == 5) { /* first a write txn that changes nothing: a commit of no record */
                ent_txn *t = NULL;
                if (!(rc = ent_txn_begin(&t, w->s, ENT_TXN_WRITE))) rc = ent_txn_commit(t);
            }
            if (!rc) rc = ent_create(w->s, NULL, e);
            snprintf(line, sizeof line, "%s 1\n", key);
            snprintf(last, sizeof last, "%s", key);
            ent_entity_free(e);
        }
        if (rc) {
            fprintf(stderr, "powercut: writer %d call %u: %s\n", w->id, i, ent_errmsg());
            w->failed = 1;
        } else {
            ack(w, line);
        }
    }
    return NULL;
}

static int durability_arg(ent_durability *out, const char *s)
{
    if (!strcmp(s, "durable") || !strcmp(s, "mixed")) *out = ENT_DURABLE;
    else if (!strcmp(s, "lazy")) *out = ENT_LAZY;
    else return 1;
    return 0;
}

static int cmd_write(char **argv)
{
    ent_store_opts o = ENT_STORE_OPTS_INIT;
    ent_schema *sc = NULL;
    ent_store *s = NULL;
    int threads = atoi(argv[4]), ack_fd, failed = 0;
    pthread_t th[64];
    wctx w[64];
    if (threads < 1 || threads > 64 || durability_arg(&o.durability, argv[6])) return 2;
    o.map_size = 1 << 20; /* small: the map grows under the writers */
    if (ent_schema_load_json(&sc, schema_json, strlen(schema_json), "cut") || ent_store_open(&s, argv[2], sc, &o)) {
        fprintf(stderr, "powercut: %s\n", ent_errmsg());
        return 1;
    }
    ack_fd = open(argv[3], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (ack_fd < 0 || write(ack_fd, "OPEN 0\n", 7) != 7) return 1; /* the store is made */
    /* mixed: a quarter of the threads write through a lazy handle of the same store, whose
     * commits are not logged: each ends the write-ahead file's generation, and the next durable
     * commit begins one (both with a checkpoint) */
    ent_store *lz = NULL;
    if (!strcmp(argv[6], "mixed")) {
        ent_store_opts lo = ENT_STORE_OPTS_INIT;
        lo.durability = ENT_LAZY;
        if (ent_store_open(&lz, argv[2], sc, &lo)) {
            fprintf(stderr, "powercut: %s\n", ent_errmsg());
            return 1;
        }
    }
    for (int i = 0; i < threads; i++) {
        int lazy = lz && i % 4 == 3;
        w[i] = (wctx){lazy ? lz : s, ent_store_type(lazy ? lz : s, "job"), ack_fd, i, (unsigned)atoi(argv[5]), (unsigned)i * 7919u + 1, 0, lazy};
        pthread_create(&th[i], NULL, writer, &w[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        failed |= w[i].failed;
    }
    close(ack_fd);
    ent_store_close(lz);
    ent_store_close(s);
    ent_schema_free(sc);
    return failed;
}

/* ---- check ------------------------------------------------------------------------------------- */

typedef struct ver {
    struct ver *next;
    unsigned char b[SECTOR];
} ver;

typedef struct disk {
    unsigned char *latest, *dur; /* what a read sees; what is durable */
    size_t cap, latest_size, dur_size;
    ver **vers;                  /* per sector: its versions since it was last durable, newest first */
    uint32_t *nvers;
    size_t *dirty, ndirty;       /* sectors with versions */
    int synced;                  /* a sync was seen */
} disk;

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        fprintf(stderr, "powercut: out of memory\n");
        exit(1);
    }
    return p;
}

static void grow(disk *d, size_t size)
{
    size_t cap = d->cap ? d->cap : 1 << 20, ns;
    if (size <= d->cap) return;
    while (cap < size) cap *= 2;
    ns = cap / SECTOR;
    d->latest = xrealloc(d->latest, cap);
    d->dur = xrealloc(d->dur, cap);
    memset(d->latest + d->cap, 0, cap - d->cap);
    memset(d->dur + d->cap, 0, cap - d->cap);
    d->vers = xrealloc(d->vers, ns * sizeof *d->vers);
    d->nvers = xrealloc(d->nvers, ns * sizeof *d->nvers);
    d->dirty = xrealloc(d->dirty, ns * sizeof *d->dirty);
    memset(d->vers + d->cap / SECTOR, 0, (ns - d->cap / SECTOR) * sizeof *d->vers);
    memset(d->nvers + d->cap / SECTOR, 0, (ns - d->cap / SECTOR) * sizeof *d->nvers);
    d->cap = cap;
}

static void drop_versions(disk *d, size_t s)
{
    while (d->vers[s]) {
        ver *v = d->vers[s];
        d->vers[s] = v->next;
        free(v);
    }
    d->nvers[s] = 0;
}

static void apply(disk *d, int durable, uint64_t off, const unsigned char *data, uint32_t len)
{
    size_t end = (size_t)off + len;
    grow(d, end + SECTOR);
    memcpy(d->latest + off, data, len);
    if (end > d->latest_size) d->latest_size = end;
    for (size_t s = (size_t)off / SECTOR; s * SECTOR < end; s++) {
        if (durable) { /* this version is on the disk: the older ones cannot come back */
            memcpy(d->dur + s * SECTOR, d->latest + s * SECTOR, SECTOR);
            drop_versions(d, s);
            if (end > d->dur_size) d->dur_size = end;
            continue;
        }
        ver *v = xrealloc(NULL, sizeof *v);
        memcpy(v->b, d->latest + s * SECTOR, SECTOR);
        v->next = d->vers[s];
        d->vers[s] = v;
        if (d->nvers[s]++ == 0) d->dirty[d->ndirty++] = s;
    }
}

static void sync_all(disk *d)
{
    for (size_t i = 0; i < d->ndirty; i++) {
        size_t s = d->dirty[i];
        if (!d->nvers[s]) continue;
        memcpy(d->dur + s * SECTOR, d->latest + s * SECTOR, SECTOR);
        drop_versions(d, s);
    }
    d->ndirty = 0;
    d->dur_size = d->latest_size;
    d->synced = 1;
}

/* The disk after a cut now: mode 0 a random version per sector, 1 the latest, 2 the durable ones. */
static unsigned char *cut_image(disk *d, int mode, unsigned *seed, size_t *size)
{
    unsigned char *img = xrealloc(NULL, d->cap);
    memcpy(img, d->dur, d->cap);
    *size = d->dur_size;
    for (size_t i = 0; i < d->ndirty; i++) {
        size_t s = d->dirty[i];
        uint32_t n = d->nvers[s], pick;
        ver *v = d->vers[s];
        if (!n) continue;
        pick = mode == 1 ? 1 : mode == 2 ? 0 : (uint32_t)(rand_r(seed) % (n + 1)); /* 0: durable; k: k-th newest */
        if (!pick) continue;
        for (uint32_t k = 1; k < pick; k++) v = v->next;
        memcpy(img + s * SECTOR, v->b, SECTOR);
        if ((s + 1) * SECTOR > *size) *size = (s + 1) * SECTOR;
    }
    if (*size > d->latest_size && d->latest_size > d->dur_size) *size = d->latest_size;
    return img;
}

/* The write of record r, under way when the power went: each of its sectors is old or new. */
static void in_flight(unsigned char *img, size_t *size, const unsigned char *r0, unsigned *seed)
{
    pc_rec r;
    const unsigned char *data = r0 + sizeof r;
    memcpy(&r, r0, sizeof r);
    if (r.op != 'W' && r.op != 'D') return;
    for (uint64_t s = r.off / SECTOR; s * SECTOR < r.off + r.len; s++) {
        uint64_t lo = s * SECTOR > r.off ? s * SECTOR : r.off, hi = (s + 1) * SECTOR < r.off + r.len ? (s + 1) * SECTOR : r.off + r.len;
        if (rand_r(seed) % 2) continue;
        memcpy(img + lo, data + (lo - r.off), (size_t)(hi - lo));
        if (hi > *size) *size = (size_t)hi;
    }
}

typedef struct ackl {
    char key[48];
    uint64_t version;
} ackl;

static void on_problem(const char *line, void *p)
{
    (void)p;
    fprintf(stderr, "  verify: %s\n", line);
}

/* The disk after the cut is read on a machine that booted again: the header's boot is another
 * one, so an open must put back what the records hold (within the same boot the page cache
 * would still hold every write, and the library trusts data.mdb). */
static void next_boot(unsigned char *img, size_t size)
{
    wal_hdr h;
    if (size < sizeof h) return;
    memcpy(&h, img, sizeof h);
    h.csum = 0;
    if (memcmp(h.magic, WAL_MAGIC, 8) || XXH3_64bits(&h, sizeof h) != ((const wal_hdr *)(const void *)img)->csum) return;
    memset(h.boot, 0, sizeof h.boot);
    memcpy(h.boot, "the boot after the power cut", 28);
    h.csum = XXH3_64bits(&h, sizeof h);
    memcpy(img, &h, sizeof h);
}

/* must_exist: the store's creation is durable by now (else a cut may leave no store yet). */
static int check_cut(const char *work, unsigned char **img, const size_t *size, const ackl *acks, size_t nacks, int durable,
                     int must_exist, size_t at, int mode)
{
    static const char *const names[PC_FILES] = {"data.mdb", "wal"};
    char dir[ENT_TEST_PATH_MAX], path[ENT_TEST_PATH_MAX];
    ent_store *s = NULL;
    uint64_t problems = 0;
    int fd, bad = 0, rc;
    if (ent_test_fmt(dir, sizeof dir, "%s/cut", work) || ent_test_rm_rf(dir) || mkdir(dir, 0755) < 0) return 1;
    next_boot(img[1], size[1]);
    for (int f = 0; f < PC_FILES; f++) {
        if (f > 0 && !size[f]) continue; /* never written: not there */
        if (ent_test_fmt(path, sizeof path, "%s/%s", dir, names[f])) return 1;
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, img[f], size[f]) != (ssize_t)size[f] || close(fd) < 0) return 1;
    }
    if ((rc = ent_store_open(&s, dir, NULL, NULL))) {
        if (!must_exist && rc == ENT_NOTFOUND) return 0;
        fprintf(stderr, "powercut: cut at record %zu (mode %d, %zu acknowledged): open: %s\n", at, mode, nacks, ent_errmsg());
        return 1;
    }
    if (ent_store_verify(&problems, s, on_problem, NULL) != ENT_OK) {
        fprintf(stderr, "powercut: cut at record %zu (mode %d): verify found %" PRIu64 " problems: %s\n", at, mode,
                problems, ent_errmsg());
        bad = 1;
    }
    for (size_t i = 0; durable && !bad && i < nacks; i++) {
        ent_entity *e = NULL;
        if (acks[i].key[0] == '~') continue; /* a lazy handle's: it may be lost */
        ent_key k = ent_key_str(acks[i].key);
        rc = ent_get(&e, s, NULL, ent_store_type(s, "job"), &k);
        if (rc || ent_entity_version(e) < acks[i].version) {
            fprintf(stderr, "powercut: cut at record %zu (mode %d): acknowledged %s version %" PRIu64 " is %s\n", at, mode,
                    acks[i].key, acks[i].version, rc ? "missing" : "older");
            bad = 1;
        }
        ent_entity_free(e);
    }
    ent_store_close(s);
    return bad;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static int cmd_check(int argc, char **argv)
{
    const char *logp = argv[2], *work = argv[3], *store = argc > 7 ? argv[7] : NULL;
    int cuts = atoi(argv[4]), durable;
    unsigned seed = (unsigned)strtoul(argv[5], NULL, 10);
    ent_durability dur;
    struct stat st;
    unsigned char *log;
    size_t nrec = 0, cap = 1024, *at, nat = 0, nacks = 0, acap = 1024, ci = 0;
    size_t *recs = NULL, nsync = 0, checked = 0;
    ackl *acks = NULL;
    disk d[PC_FILES];
    int fd, bad = 0, opened = 0;
    size_t syncs_since_open = 0;
    if (durability_arg(&dur, argv[6]) || cuts < 1) return 2;
    durable = dur == ENT_DURABLE;
    fd = open(logp, O_RDONLY);
    if (fd < 0 || fstat(fd, &st) < 0) return 1;
    log = st.st_size ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (!log) return 1;
    /* the records' offsets */
    recs = xrealloc(NULL, cap * sizeof *recs);
    for (size_t off = 0; off < (size_t)st.st_size;) {
        pc_rec r;
        memcpy(&r, log + off, sizeof r);
        if (nrec == cap) recs = xrealloc(recs, (cap *= 2) * sizeof *recs);
        recs[nrec++] = off;
        if (r.op == 'S' || r.op == 'D') nsync++;
        if (r.op == 'X') {
            fprintf(stderr, "powercut: the writer did something the playback cannot model (%.*s)\n", (int)r.len,
                    (const char *)log + off + sizeof r);
            return 1;
        }
        off += sizeof r + r.len;
    }
    /* cut points: random ones, and around syncs */
    at = xrealloc(NULL, ((size_t)cuts + 2) * sizeof *at);
    for (int i = 0; i < cuts; i++) {
        size_t k = (size_t)rand_r(&seed) % (nrec + 1);
        if (i % 2 && nsync) { /* just before or after a sync */
            for (size_t j = k; j < nrec; j++) {
                pc_rec r;
                memcpy(&r, log + recs[j], sizeof r);
                if (r.op == 'S' || r.op == 'D') {
                    k = j + (size_t)(rand_r(&seed) % 2);
                    break;
                }
            }
        }
        at[nat++] = k;
    }
    at[nat++] = nrec;
    qsort(at, nat, sizeof *at, cmp_size);
    memset(d, 0, sizeof d);
    acks = xrealloc(NULL, acap * sizeof *acks);
    for (size_t i = 0; i <= nrec && !bad; i++) {
        /* Before the first sync the store's creation is not durable (and ent_store_open() has not
         * returned): a cut there may leave anything, and nothing was acknowledged. */
        while (ci < nat && at[ci] == i && !d[0].synced && !d[1].synced && !bad) {
            if (nacks) {
                fprintf(stderr, "powercut: %zu calls acknowledged before the store's first sync\n", nacks);
                bad = 1;
            }
            ci++;
        }
        while (ci < nat && at[ci] == i && !bad) {
            int mode = (int)(ci % 5 == 3 ? 1 : ci % 5 == 4 ? 2 : 0);
            size_t size[PC_FILES];
            unsigned char *img[PC_FILES];
            pc_rec r;
            if (i < nrec) { /* room in the image for the write under way */
                memcpy(&r, log + recs[i], sizeof r);
                if (r.file >= 0 && r.file < PC_FILES) grow(&d[(int)r.file], (size_t)r.off + r.len + SECTOR);
            }
            for (int f = 0; f < PC_FILES; f++) img[f] = cut_image(&d[f], mode, &seed, &size[f]);
            if (i < nrec && mode == 0 && rand_r(&seed) % 2 && r.file >= 0 && r.file < PC_FILES) /* a write under way at the cut: any of its sectors */
                in_flight(img[(int)r.file], &size[(int)r.file], log + recs[i], &seed);
            /* durable: open returned after its creation was synced; lazy: the next sync makes it */
            bad = check_cut(work, img, size, acks, nacks, durable, opened && (durable || syncs_since_open > 0), i, mode);
            for (int f = 0; f < PC_FILES; f++) free(img[f]);
            checked++;
            while (ci < nat && at[ci] == i) ci++;
        }
        if (i == nrec) break;
        {
            pc_rec r;
            const unsigned char *data = log + recs[i] + sizeof r;
            memcpy(&r, log + recs[i], sizeof r);
            if (r.file < 0 || r.file >= PC_FILES) {
                fprintf(stderr, "powercut: record %zu names file %d\n", i, r.file);
                bad = 1;
            } else if (r.op == 'W' || r.op == 'D') apply(&d[(int)r.file], r.op == 'D', r.off, data, r.len);
            else if (r.op == 'S') {
                sync_all(&d[(int)r.file]);
                syncs_since_open += opened;
            }
            else if (r.op == 'A') {
                const char *p = (const char *)data, *end = p + r.len;
                while (p < end) {
                    const char *nl = memchr(p, '\n', (size_t)(end - p));
                    ackl a;
                    if (!nl || sscanf(p, "%47s %" SCNu64, a.key, &a.version) != 2) break;
                    p = nl + 1;
                    if (!strcmp(a.key, "OPEN")) {
                        opened = 1;
                        continue;
                    }
                    if (nacks == acap) acks = xrealloc(acks, (acap *= 2) * sizeof *acks);
                    acks[nacks++] = a;
                }
            }
        }
    }
    for (int f = 0; f < PC_FILES && !bad && store; f++) { /* the recording is whole: played back to the end, it is the real file */
        static const char *const names[PC_FILES] = {"data.mdb", "wal"};
        char path[ENT_TEST_PATH_MAX];
        struct stat fs;
        unsigned char *real = NULL;
        fd = ent_test_fmt(path, sizeof path, "%s/%s", store, names[f]) ? -1 : open(path, O_RDONLY);
        if (f > 0 && fd < 0 && errno == ENOENT && !d[f].latest_size) continue;
        if (fd < 0 || fstat(fd, &fs) < 0 || (size_t)fs.st_size != d[f].latest_size ||
            (fs.st_size && (!(real = mmap(NULL, d[f].latest_size, PROT_READ, MAP_PRIVATE, fd, 0)) || real == MAP_FAILED ||
                            memcmp(real, d[f].latest, d[f].latest_size)))) {
            fprintf(stderr, "powercut: the log played back is not %s (%zu bytes): a write was not recorded\n", path,
                    d[f].latest_size);
            bad = 1;
        }
        if (real && real != MAP_FAILED) munmap(real, d[f].latest_size);
        if (fd >= 0) close(fd);
    }
    printf("powercut %s (seed %s): %zu records (%zu syncs), %zu acknowledged calls, %zu cuts checked%s\n", argv[6], argv[5],
           nrec, nsync, nacks, checked, bad ? ", FAILED" : "");
    return bad || nacks == 0;
}

int main(int argc, char **argv)
{
    if (argc == 7 && !strcmp(argv[1], "write")) return cmd_write(argv);
    if ((argc == 7 || argc == 8) && !strcmp(argv[1], "check")) return cmd_check(argc, argv);
    fprintf(stderr, "usage: powercut write STORE ACKS THREADS CALLS durable|lazy|mixed\n"
                    "       powercut check LOG WORKDIR CUTS SEED durable|lazy|mixed [STORE]\n");
    return 2;
}
