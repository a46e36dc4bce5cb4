/* The LMDB backend's write-ahead file ("<dir>/wal"): durable commits that sync one sequential
 * append instead of LMDB's scattered pages.
 *
 * Why. A durable LMDB commit writes every page it copied wherever LMDB's free list has room and
 * syncs them, then syncs the meta page: on this project's disks a page apart costs the sync ~26
 * µs, a page beside the last ~3.5 µs (README, "What limits the curve"), so group commits stalled
 * at ~13 k/s from 8 threads. Here a durable commit runs with MDB_NOSYNC (its pages reach the page
 * cache only) and then appends the images of the pages it wrote, and its meta page, to this file
 * as one record, and syncs the file: one contiguous write (with O_DIRECT where the file system
 * takes it: dio.c). data.mdb is synced at checkpoints only.
 *
 * Which pages a commit wrote, without LMDB's help: LMDB never writes a page in place; a commit
 * writes only pages it allocated, taken from its free list or from past the last page. So the
 * pages that changed from snapshot L to snapshot S are (free in L and not free in S) and the pages
 * past L's last page up to S's, read through LMDB's public API (the free list is table 0, which a
 * read transaction may walk, as mdb_stat -f does) and the map (the images). Every commit appends
 * such a record while it still holds this file's lock, so records chain from the checkpoint.
 *
 * Why it is crash safe. A checkpoint syncs data.mdb (every page of snapshot C is on disk) and then
 * writes a new header (generation g+1, base C) and syncs it; records carry the generation, the
 * txn they end at and the one they start from, and a checksum. After a power cut, the records of
 * the header's generation that chain from the base and pass their checksum are replayed: each
 * page image written at its place, the last record's meta page into both meta slots. Every page
 * reachable in that last snapshot T is then either in a replayed record or unchanged since C,
 * provided nothing overwrote it on the disk: LMDB reuses a page only two commits after the one
 * that freed it (its free list gives a txn only pages freed before the previous commit), so the
 * pages of snapshot T are intact until commit T+3, and no commit X is made before the file is
 * durable through X-2 (wait_durable_before, as txn X begins: LMDB writes a large txn's
 * pages before its commit). A process crash loses nothing: the page cache holds every commit, so
 * records are replayed only when the machine rebooted (the header names the boot it was written
 * in).
 *
 * Writers that do not log (lazy and none handles, other libraries) must never commit while the
 * file holds records that a reboot would replay over their commits: such a writer that finds the
 * file active ends it with a checkpoint first. A durable writer that finds a commit it did not log
 * (a crashed process's last one, a writer above) makes a checkpoint before it logs again.
 *
 * Locks: wmu (the process's writer) -> byte 0 of wal (open-file-description lock, one process
 * logs at a time) -> LMDB's writer mutex. Byte 1: every open handle holds it shared; a recovery
 * holds it exclusively, so nobody opens the store while its pages are being put back. */
#include "backend_lmdb_int.h"
#include "backend_lmdb_wal.h"
#include "dio.h"

#include <inttypes.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <time.h>
#include <xxhash.h>

/* State every process shares, in the second half of the notify file's page (never synced: a write
 * through a map into the write-ahead file made every sync of it write a second place): valid while
 * magic and boot say this boot wrote it. Read and written under the file's lock, except the
 * atomics. A process that dies half way through an update leaves either last_txn as it was
 * (which no longer matches LMDB's last txn: the next writer makes a checkpoint) or magic 0. */
typedef struct wal_shared {
    _Atomic uint64_t magic; /* SHARED_MAGIC; 0 while a checkpoint rewrites the rest, or to ask for one */
    _Atomic uint64_t boot;  /* XXH3 of the boot id of the process that wrote it (read without the lock: ent__lmdb_wal_synced_all) */
    _Atomic uint64_t gen;
    _Atomic uint32_t active;
    uint32_t seed; /* the generation's (wal_hdr.seed) */
    uint64_t last_txn; /* the txn the records end at (the base when there are none) */
    uint64_t last_pg;  /* that snapshot's last page */
    uint64_t end_off;  /* where the next record goes */
    _Atomic uint64_t appended; /* = last_txn once its record is written */
    _Atomic uint64_t synced;   /* records durable through this txn (this generation) */
} wal_shared;

#define SHARED_MAGIC 0x6c61777365746e45ull

/* One record of LMDB's free list: the txn that freed its pages, and where they are in ids. */
typedef struct wal_frec {
    uint64_t txn;
    size_t off, n;
} wal_frec;

typedef struct lwal {
    int fd;
    int read_only;
    uint32_t psize;
    char boot[40];
    uint64_t boot_key; /* XXH3 of boot: what the shared state's boot must be */
    wal_shared *sh;
    int locked;  /* this process holds byte 0 (under wmu) */
    int logging; /* the write txn under way logs its commit */
    MDB_txn *rt; /* a read txn kept reset for append */
    /* The free list of snapshot free_txn of generation free_gen: its records (LMDB's table 0,
     * one per txn that freed pages, ascending) with their page numbers side by side in ids, and
     * the same pages as a bitmap by page number. nfl: the same for the snapshot read last
     * (read_free), and gone: the pages of fl's records that it changed or dropped. A commit's
     * pages are those free before and not after, so they are among gone: a commit pays for the
     * records it changed, not for the whole list. Sorting the whole list (the records come in
     * txn order) made each durable commit O(F log F) for F free pages, and the soak's writers
     * fell from ~1 700 to ~40 events a second after a reader had held a snapshot for a minute;
     * walking it (a bit set per page) still cost them three quarters of their rate. */
    struct wal_free {
        wal_frec *rec;
        size_t rec_n, rec_cap;
        uint64_t *ids;
        size_t ids_n, ids_cap;
        uint64_t *bits;
        size_t words;
    } fl, nfl;
    uint64_t *gone;
    size_t gone_n, gone_cap;
    uint64_t free_gen, free_txn;
    uint64_t *dirty;
    size_t dirty_cap;
    wal_page *ent;
    size_t ent_cap;
    unsigned char *img; /* the pages' images when data.mdb could not be mapped */
    size_t img_cap;
    struct iovec *iov; /* a record's pieces */
    size_t iov_cap;
    uint64_t written; /* the file's size, as far as this process knows */
    int recovered;    /* this open put the records back: the shared state is another boot's */
    int fresh;        /* this open found no header: a new file (ent__lmdb_wal_fresh) */
    XXH3_state_t *xs;
    ent_dio dio; /* records written directly (dio.c), when the file system lets them */
    pthread_mutex_t sync_mu; /* leaf: a sync of fd and what it marks (sync_records) */
} lwal;

/* ---- small helpers --------------------------------------------------------------------------- */

/* The shared state is this boot's (a page left by another boot, or half rewritten, is not). */
static int shared_valid(const lwal *w)
{
    return w->sh->magic == SHARED_MAGIC && w->sh->boot == w->boot_key;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

int ent__lmdb_wal_boot_unknown;

static void read_boot(char out[40])
{
    memset(out, 0, 40);
    if (ent__lmdb_wal_boot_unknown) return;
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return; /* unknown: every open then counts as after a reboot (replay is safe) */
    ssize_t n = read(fd, out, 39);
    close(fd);
    if (n < 0) n = 0;
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ')) n--;
    out[n] = 0;
}

static uint64_t hdr_csum(const wal_hdr *h)
{
    wal_hdr c = *h;
    c.csum = 0;
    return XXH3_64bits(&c, sizeof c);
}

static int full_pwrite(int fd, const void *p, size_t n, off_t off)
{
    const char *c = p;
    while (n) {
        ssize_t w = pwrite(fd, c, n, off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno;
        if (w == 0) return EIO;
        c += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

/* v[0..n) written whole at off; v is used up on the way. */
static int full_pwritev(int fd, struct iovec *v, size_t n, off_t off)
{
    while (n) {
        ssize_t w = pwritev(fd, v, n < IOV_MAX ? (int)n : IOV_MAX, off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno;
        if (w == 0) return EIO;
        off += w;
        while (w > 0) {
            if ((size_t)w >= v->iov_len) {
                w -= (ssize_t)v->iov_len;
                v++;
                n--;
            } else {
                v->iov_base = (char *)v->iov_base + w;
                v->iov_len -= (size_t)w;
                w = 0;
            }
        }
        while (n && !v->iov_len) v++, n--;
    }
    return 0;
}

static int full_pread(int fd, void *p, size_t n, off_t off)
{
    char *c = p;
    while (n) {
        ssize_t r = pread(fd, c, n, off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return errno;
        if (r == 0) return -1; /* short: past the end */
        c += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

static int lock_byte(int fd, int type, off_t byte, int wait)
{
    struct flock fl = {.l_type = (short)type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1};
    for (;;) {
        if (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) == 0) return 0;
        if (errno != EINTR) return errno;
    }
}

static int read_hdr(int fd, wal_hdr *h)
{
    if (full_pread(fd, h, sizeof *h, 0)) return 0;
    return !memcmp(h->magic, WAL_MAGIC, 8) && h->version == WAL_VERSION && h->csum == hdr_csum(h) && h->psize >= 512 &&
           h->psize <= 65536;
}

/* When read_hdr() fails: 0 for a file whose header was never written (a new file: empty, or
 * zeros, nothing at REC_START), else the code to refuse the open with, its message set. A header
 * is one sector written whole or not at all (HDR_SIZE), so one that fails its checks was damaged
 * after it was written; taken for no header, the records after it were dropped without a word
 * (every commit since the last checkpoint) and data.mdb opened as the disk held it. */
static int hdr_damage(int fd, const char *dir)
{
    /* Another process's checkpoint may be rewriting the header (under the log lock, byte 0) while
     * this one reads it: a header that looks damaged is read again while no writer holds that lock. */
    int state = 0, held = 0, rerr = 0;
    unsigned version = 0;
    for (int again = 0; again < 2; again++) {
        wal_hdr h;
        uint32_t magic = 0;
        int e1 = full_pread(fd, &magic, sizeof magic, REC_START), e2;
        int rec = e1 == 0 && magic == REC_MAGIC;
        memset(&h, 0, sizeof h);
        rerr = 0;
        /* A read that fails (EIO) says nothing of what the file holds: taken for no header, the
         * records were dropped and a generation 1 header written over them. */
        if (read_hdr(fd, &h)) state = 0; /* whole after all */
        else if ((e2 = full_pread(fd, &h, sizeof h, 0))) {
            state = rec ? 2 : 0;
            rerr = e2 > 0 ? e2 : e1 > 0 ? e1 : 0;
            if (rerr) state = 3;
        } else if (!memcmp(h.magic, WAL_MAGIC, 8) && h.version > WAL_VERSION) state = 1;
        else state = !memcmp(h.magic, WAL_MAGIC, 8) || rec ? 2 : 0;
        if (!state && e1 > 0 && !read_hdr(fd, &h)) state = 3, rerr = e1; /* none, unless the records' block could not be read */
        version = h.version;
        if (!state || again || !(held = lock_byte(fd, F_RDLCK, LOCK_LOG, 1) == 0)) break;
    }
    if (held) lock_byte(fd, F_UNLCK, LOCK_LOG, 0);
    if (state == 3)
        return ent__err(ENT_IO, "store %s: reading its write-ahead file's header (%s/wal): %s; it may hold commits "
                        "that data.mdb lacks; nothing was written, open it again once that is mended", dir, dir, strerror(rerr));
    if (state == 1)
        return ent__err(ENT_FORMAT, "store %s: its write-ahead file %s/wal is of format %u, newer than this library's %u",
                        dir, dir, version, (unsigned)WAL_VERSION);
    if (state == 2)
        return ent__err(ENT_CORRUPT, "store %s: its write-ahead file's header (%s/wal, its first %d bytes) is damaged: "
                        "it may hold commits that data.mdb lacks; nothing was written: restore a backup or copy a "
                        "mirror, or, when the store was closed before the damage with nothing to put back, move "
                        "%s/wal away", dir, dir, HDR_SIZE, dir);
    return 0;
}

/* A generation's checksum seed, never 0. Why: a record is found past a damaged one by trying
 * every byte (later_record), and bytes there are also the images of values; a value holding a
 * copy of a write-ahead file (generations are small counters every store shares) or crafted bytes
 * passed for a record of the generation, and a legitimate power cut was refused as damage. */
static uint32_t new_seed(uint64_t gen, uint64_t base)
{
    uint32_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
        struct timespec ts;
        uint64_t v[4] = {gen, base, (uint64_t)getpid(), 0};
        clock_gettime(CLOCK_MONOTONIC, &ts);
        v[3] = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        s = (uint32_t)XXH3_64bits(v, sizeof v);
    }
    return s ? s : 1;
}

static int write_hdr(lwal *w, uint64_t gen, uint64_t base, int active, const unsigned char *meta, uint32_t *out_seed)
{
    wal_hdr h;
    memset(&h, 0, sizeof h);
    h.seed = new_seed(gen, base);
    if (out_seed) *out_seed = h.seed;
    memcpy(h.magic, WAL_MAGIC, 8);
    h.version = WAL_VERSION;
    h.psize = w->psize;
    h.gen = gen;
    h.base = base;
    h.active = (uint32_t)active;
    memcpy(h.boot, w->boot, sizeof h.boot);
    if (meta) memcpy(h.meta, meta, sizeof h.meta);
    h.csum = hdr_csum(&h);
    int err = full_pwrite(w->fd, &h, sizeof h, 0);
    if (!err && fdatasync(w->fd) < 0) err = errno;
    return err;
}

static int grow_u64(uint64_t **v, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need) n *= 2;
    uint64_t *p = realloc(*v, n * sizeof *p);
    if (!p) return ENOMEM;
    *v = p;
    *cap = n;
    return 0;
}

static int bit_test(const uint64_t *bits, size_t words, uint64_t pg)
{
    return pg / 64 < words && (bits[pg / 64] >> (pg % 64) & 1);
}

/* Sets bit pg, the bitmap grown (zeroed) to hold it. */
static int bit_set(uint64_t **bits, size_t *words, uint64_t pg)
{
    if (pg / 64 >= *words) {
        size_t n = *words ? *words : 64;
        while (n <= pg / 64) n *= 2;
        uint64_t *p = realloc(*bits, n * sizeof *p);
        if (!p) return ENOMEM;
        memset(p + *words, 0, (n - *words) * sizeof *p);
        *bits = p;
        *words = n;
    }
    (*bits)[pg / 64] |= (uint64_t)1 << (pg % 64);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- recovery --------------------------------------------------------------------------------- */

/* 1 when a record of h's generation at off (of a file of fsize bytes) passes its checks: its
 * header within the file, its checksum, its meta page's txn, entries that account for its
 * images. *r: its header; *buf (grown as needed, *cap bytes): its entries, meta and images. 0
 * when not (*err set when memory ran out or a read failed: a record that could not be read is
 * not one that fails its checks). Whether it chains is the caller's. */
static int valid_record(lwal *w, const wal_hdr *h, uint64_t off, uint64_t fsize, wal_rec *r, unsigned char **buf,
                        size_t *cap, int *err)
{
    int rerr;
    if (off + sizeof *r > fsize) return 0;
    if ((rerr = full_pread(w->fd, r, sizeof *r, (off_t)off))) {
        if (rerr > 0) *err = rerr;
        return 0;
    }
    if (r->magic != REC_MAGIC || r->gen != h->gen || r->txn <= r->prev || r->psize != h->psize) return 0;
    uint64_t room = fsize - off - sizeof *r;
    if (r->npages > room / sizeof(wal_page) || r->bytes > room || r->npages * sizeof(wal_page) + META_LEN + r->bytes > room)
        return 0;
    size_t body = (size_t)(r->npages * sizeof(wal_page) + META_LEN + r->bytes);
    if (body > *cap) {
        unsigned char *nb = realloc(*buf, body);
        if (!nb) {
            *err = ENOMEM;
            return 0;
        }
        *buf = nb;
        *cap = body;
    }
    if ((rerr = full_pread(w->fd, *buf, body, (off_t)(off + sizeof *r)))) {
        if (rerr > 0) *err = rerr;
        return 0;
    }
    wal_rec c = *r;
    c.csum = 0;
    XXH3_64bits_reset_withSeed(w->xs, h->seed);
    XXH3_64bits_update(w->xs, &c, sizeof c);
    XXH3_64bits_update(w->xs, *buf, body);
    if (XXH3_64bits_digest(w->xs) != r->csum) return 0;
    const unsigned char *meta = *buf + r->npages * sizeof(wal_page);
    if (get64(meta + OFF_TXNID) != r->txn || (uint32_t)get64(meta + OFF_MAGIC) != MDB_MAGIC_V) return 0;
    /* the entries must account for the images exactly (a checksum collision aside, a bug) */
    uint64_t sum = 0;
    for (uint64_t i = 0; i < r->npages; i++) {
        wal_page pe;
        memcpy(&pe, *buf + i * sizeof pe, sizeof pe);
        if (pe.lo > pe.hi || pe.hi > r->psize) return 0;
        sum += pe.lo + (r->psize - pe.hi);
    }
    return sum == r->bytes;
}

/* The records of h's generation that chain from its base and pass their checks, each applied
 * to data.mdb (fd) in order when apply; *out_last: the txn of the last, *out_n: how many,
 * *out_end: where the chain ends. */
static int scan_records(lwal *w, const wal_hdr *h, int dfd, int apply, uint64_t *out_last, size_t *out_n,
                        unsigned char *meta_out, uint64_t *out_end)
{
    struct stat st;
    uint64_t off = REC_START, last = h->base;
    size_t n = 0;
    unsigned char *buf = NULL;
    size_t cap = 0;
    int err = 0;
    if (fstat(w->fd, &st) < 0) return errno;
    for (;;) {
        wal_rec r;
        if (!valid_record(w, h, off, (uint64_t)st.st_size, &r, &buf, &cap, &err) || r.prev != last) break;
        size_t body = (size_t)(r.npages * sizeof(wal_page) + META_LEN + r.bytes);
        const unsigned char *meta = buf + r.npages * sizeof(wal_page), *img = meta + META_LEN;
        if (apply) {
            unsigned char *page = malloc(r.psize);
            if (!page) err = ENOMEM;
            for (uint64_t i = 0; i < r.npages && !err; i++) {
                wal_page pe;
                memcpy(&pe, buf + i * sizeof pe, sizeof pe);
                memcpy(page, img, pe.lo);
                memset(page + pe.lo, 0, pe.hi - pe.lo);
                memcpy(page + pe.hi, img + pe.lo, r.psize - pe.hi);
                img += pe.lo + (r.psize - pe.hi);
                err = full_pwrite(dfd, page, r.psize, (off_t)(pe.pgno * r.psize));
            }
            free(page);
            if (err) break;
        }
        memcpy(meta_out, meta, META_LEN);
        last = r.txn;
        n++;
        off += sizeof r + body;
    }
    free(buf);
    *out_last = last;
    *out_n = n;
    *out_end = off;
    return err;
}

/* Past the end of the chain (from), a record of h's generation at txn min_txn or later that
 * passes its checks: *out_off and *out_txn, and 1; else 0 (*err set when memory ran out). Why:
 * the chain ends where a power cut left a record short, and only the last two can be (commit x
 * begins once the file is durable through x-2: a record at last+3 means that last+1's was
 * synced), so such a record says the file was damaged after it was written, and the records
 * after the damage cannot be put back. Record starts are not known past a damaged header: every
 * byte is tried where the record magic is. */
static int later_record(lwal *w, const wal_hdr *h, uint64_t from, uint64_t min_txn, uint64_t *out_off,
                        uint64_t *out_txn, int *err)
{
    enum { CHUNK = 1 << 20 };
    struct stat st;
    unsigned char *chunk = malloc(CHUNK), *buf = NULL;
    size_t cap = 0;
    int found = 0;
    const uint32_t magic = REC_MAGIC;
    if (!chunk) {
        *err = ENOMEM;
        return 0;
    }
    if (fstat(w->fd, &st) == 0) {
        for (uint64_t at = from; !found && !*err && at + sizeof(wal_rec) <= (uint64_t)st.st_size;) {
            size_t want = (uint64_t)st.st_size - at < CHUNK ? (size_t)((uint64_t)st.st_size - at) : CHUNK;
            ssize_t got = pread(w->fd, chunk, want, (off_t)at);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) *err = errno;
            if (got < (ssize_t)sizeof magic) break;
            size_t last_start = (size_t)got - sizeof magic;
            for (size_t i = 0; i <= last_start && !found && !*err; i++) {
                wal_rec r;
                if (memcmp(chunk + i, &magic, sizeof magic)) continue;
                if (valid_record(w, h, at + i, (uint64_t)st.st_size, &r, &buf, &cap, err) && r.txn >= min_txn) {
                    *out_off = at + i;
                    *out_txn = r.txn;
                    found = 1;
                }
            }
            at += last_start + 1; /* a magic across the chunk's end is tried in the next */
        }
    }
    free(chunk);
    free(buf);
    return found;
}

/* 1 when data.mdb (open as dfd) can be the one the file's generation began on: its checkpoint
 * synced base's meta page into slot base % 2, which only a later commit's meta overwrites (LMDB
 * writes txn t's meta into slot t % 2); the other slot holds base-1 or older, or a later one. A
 * data.mdb put back from a backup, or another store's, fails this and must not take the pages:
 * they would be spliced into a tree they do not belong to. *seen: its newest txn. 0 with *err set
 * when a meta page could not be read. */
static int same_lineage(int dfd, const wal_hdr *h, uint64_t *seen, int *err)
{
    /* the meta's tables, last page and txn: MDB_meta from mm_dbs to mm_txnid */
    enum { DBS = 40 };
    unsigned char m[2][META_LEN];
    int valid[2];
    *seen = 0;
    for (int slot = 0; slot < 2; slot++) {
        /* a slot that cannot be read says nothing: not one to skip (the check then passed
         * unchecked, or named a sound data.mdb another store's) */
        int rerr = full_pread(dfd, m[slot], META_LEN, (off_t)slot * h->psize);
        if (rerr > 0) {
            *err = rerr;
            return 0;
        }
        valid[slot] = rerr == 0 && (uint32_t)get64(m[slot] + OFF_MAGIC) == MDB_MAGIC_V;
        if (valid[slot] && get64(m[slot] + OFF_TXNID) > *seen) *seen = get64(m[slot] + OFF_TXNID);
    }
    if (*seen < h->base) return 0;
    const unsigned char *b = m[h->base & 1];
    if (valid[h->base & 1] && get64(b + OFF_TXNID) == h->base &&
        memcmp(b + DBS, h->meta + DBS, OFF_TXNID + 8 - DBS) != 0)
        return 0;
    return 1;
}

/* After a reboot: put back what the records hold and start a new generation. Holds byte 1
 * exclusively (nobody else has the store open). */
static int recover(lwal *w, const char *dir, const wal_hdr *h)
{
    uint64_t last;
    size_t n;
    unsigned char meta[META_LEN];
    uint64_t end, later_off = 0, later_txn = 0;
    /* A read that fails (EIO) ends neither the chain nor the search: the records past it would
     * be dropped without a word, and the new generation written over them. */
    int err = scan_records(w, h, -1, 0, &last, &n, meta, &end);
    if (!err && later_record(w, h, end, last + 3, &later_off, &later_txn, &err))
        return ent__err(ENT_CORRUPT, "store %s: its write-ahead file is damaged: the record after txn %llu (at byte %llu) "
                        "fails its checks, yet the record of txn %llu follows at byte %llu, which a power cut cannot "
                        "leave; the commits after txn %llu cannot be put back, and data.mdb without them may be "
                        "damaged; nothing was written: restore a backup or copy a mirror (moving %s/wal away opens "
                        "data.mdb as the disk holds it: check it then)",
                        dir, (unsigned long long)last, (unsigned long long)end, (unsigned long long)later_txn,
                        (unsigned long long)later_off, (unsigned long long)last, dir);
    if (err)
        return ent__err(err == ENOMEM ? ENT_NOMEM : ENT_IO, "store %s: reading its write-ahead file %s/wal to recover it: "
                        "%s; nothing was written, open it again once that is mended", dir, dir, strerror(err));
    if (n == 0) memcpy(meta, h->meta, META_LEN);
    if ((uint32_t)get64(meta + OFF_MAGIC) != MDB_MAGIC_V || get64(meta + OFF_TXNID) != last)
        return ent__err(ENT_CORRUPT, "store %s: its write-ahead file's header is damaged (its meta page is not txn %llu's)",
                        dir, (unsigned long long)last);
    char *data = ent__lmdb_path_join(dir, "data.mdb");
    if (!data) return ent__err(ENT_NOMEM, "out of memory");
    int dfd = open(data, O_RDWR | O_CLOEXEC);
    free(data);
    if (dfd < 0)
        return ent__err(errno == EACCES ? ENT_READONLY : ENT_IO, "store %s: opening data.mdb to recover it from its "
                        "write-ahead file: %s", dir, strerror(errno));
    uint64_t seen;
    int rerr = 0, same = same_lineage(dfd, h, &seen, &rerr);
    if (rerr) {
        close(dfd);
        return ent__err(ENT_IO, "store %s: reading data.mdb's meta pages to recover it from its write-ahead file: %s; "
                        "nothing was written, open it again once that is mended", dir, strerror(rerr));
    }
    if (!same) {
        close(dfd);
        return ent__err(ENT_CORRUPT, "store %s: its write-ahead file goes on from txn %llu, which data.mdb (at txn %llu) "
                                     "does not hold: data.mdb was replaced, or the file is another store's; nothing was "
                                     "written: move %s/wal away to open data.mdb as it is",
                        dir, (unsigned long long)h->base, (unsigned long long)seen, dir);
    }
    if (n > 0) err = scan_records(w, h, dfd, 1, &last, &n, meta, &end);
    /* the last snapshot's meta page into both slots: a later commit's, unsynced, may be in either */
    for (int slot = 0; slot < 2 && !err; slot++) {
        uint64_t pg = (uint64_t)slot;
        memcpy(meta, &pg, 8); /* mp_pgno: the slot it is written to */
        err = full_pwrite(dfd, meta, META_LEN, (off_t)slot * h->psize);
    }
    if (!err && fdatasync(dfd) < 0) err = errno;
    close(dfd);
    if (err)
        return ent__errd(err == ENOSPC || err == EDQUOT ? ENT_FULL : ENT_IO, err == ENOSPC ? ENT_DETAIL_NO_SPACE : ENT_DETAIL_NONE,
                         "store %s: writing the pages of its write-ahead file back to data.mdb: %s; nothing is lost, "
                         "open it again once that is mended", dir, strerror(err));
    w->psize = h->psize;
    /* data.mdb holds every record now; the old header still names them, so a failure here loses
     * nothing: the next open puts them back again */
    if ((err = write_hdr(w, h->gen + 1, last, 0, meta, NULL)))
        return ent__errd(err == ENOSPC || err == EDQUOT ? ENT_FULL : ENT_IO, err == ENOSPC ? ENT_DETAIL_NO_SPACE : ENT_DETAIL_NONE,
                         "store %s: writing its write-ahead file's header after putting its records back: %s; nothing "
                         "is lost, open it again once that is mended", dir, strerror(err));
    return ENT_OK;
}

/* 1 when the file was active when the machine stopped: data.mdb is what the last checkpoint
 * synced, the records after it, and any part of what came later (see the top). */
static int needs_recovery(lwal *w, const wal_hdr *h)
{
    return h->active && (strcmp(h->boot, w->boot) || !w->boot[0]);
}

int ent__lmdb_wal_open(lenv *e, const char *dir, int read_only)
{
    lwal *w = calloc(1, sizeof *w);
    char *path = ent__lmdb_path_join(dir, "wal");
    wal_hdr h;
    int rc = ENT_OK, rw = !read_only; /* rw: w->fd may write (a reader's own, once it must recover) */
    if (w) {
        w->fd = w->dio.fd = -1; /* before any failure: calloc's 0 is stdin, which fail would close */
        pthread_mutex_init(&w->sync_mu, NULL);
    }
    if (!w || !path || !(w->xs = XXH3_createState())) {
        rc = ent__err(ENT_NOMEM, "out of memory");
        goto fail;
    }
    w->read_only = read_only;
    read_boot(w->boot);
    w->boot_key = XXH3_64bits(w->boot, sizeof w->boot);
    w->fd = open(path, (read_only ? O_RDONLY : O_RDWR | O_CREAT) | O_CLOEXEC, 0664);
    struct stat ls;
    if (w->fd < 0 && read_only && (errno == EACCES || (errno == ENOENT && lstat(path, &ls) == 0))) {
        /* There but not readable (or a symlink to a file that is not there: on a disk not
         * mounted, say): it may hold commits that data.mdb lacks (after a reboot), which this open
         * could not tell; reading data.mdb alone could then answer from before them. */
        int err = errno;
        rc = ent__err(err == EACCES ? ENT_READONLY : ENT_IO, "store %s: its write-ahead file %s is there but this "
                      "process may not read it: %s%s; it may hold commits data.mdb lacks", dir, path, strerror(err),
                      err == ENOENT ? " (a symlink to a file that is not there)" : "");
        goto fail;
    }
    if (w->fd < 0) {
        /* No file and no right to make one: a read-only open of a store that never had one, or
         * a writer in a directory it may not write (LMDB will say so). Nothing to recover. */
        int err = errno;
        /* ...but a writer must not go on without a file that is there (one it may not open, a
         * symlink to nowhere): its commits would not be logged while the file may hold records a
         * reboot is to put back, and would put back later, over them. */
        if (!read_only && lstat(path, &ls) == 0) {
            rc = ent__err(err == EACCES ? ENT_READONLY : ENT_IO, "store %s: its write-ahead file %s is there but cannot be "
                          "opened for writing: %s%s", dir, path, strerror(err),
                          S_ISLNK(ls.st_mode) ? " (a symlink to a file that cannot be made)" : "");
            goto fail;
        }
        errno = err;
        if (errno == ENOENT || errno == EACCES || errno == EROFS) {
            XXH3_freeState(w->xs);
            free(w);
            free(path);
            return ENT_OK;
        }
        rc = ent__err(ENT_IO, "store %s: opening its write-ahead file %s: %s", dir, path, strerror(errno));
        goto fail;
    }
    /* Shared unless a recovery is needed; then exclusive, which only a lone opener gets. */
    for (int tries = 0;; tries++) {
        int err = lock_byte(w->fd, F_RDLCK, LOCK_OPEN, 1);
        if (err) {
            rc = ent__err(ENT_IO, "store %s: locking %s: %s", dir, path, strerror(err));
            goto fail;
        }
        if (!read_hdr(w->fd, &h)) {
            if ((rc = hdr_damage(w->fd, dir))) goto fail;
            if (!read_hdr(w->fd, &h)) {
                w->fresh = 1; /* never written: a new file */
                break;
            }
        }
        if (!needs_recovery(w, &h)) break;
        if (read_only && !rw) {
            /* As SQLite's reader rolls back a hot journal: a reader that may write the store's
             * files puts it back (a repair of what the disk holds, not a write of its own);
             * else it would read data.mdb without the commits the file holds. */
            int fd2 = ent__lmdb_wal_ro_cannot_write ? -1 : open(path, O_RDWR | O_CLOEXEC);
            if (fd2 < 0) {
                int why = ent__lmdb_wal_ro_cannot_write ? EACCES : errno;
                rc = ent__err(ENT_READONLY, "store %s: the machine stopped while it was open, and it must be put back "
                                            "from its write-ahead file first, which this process may not do (%s: %s): "
                                            "open it once with write access", dir, path, strerror(why));
                goto fail;
            }
            lock_byte(w->fd, F_UNLCK, LOCK_OPEN, 0);
            close(w->fd);
            w->fd = fd2;
            rw = 1;
            continue; /* locked and read again through the new descriptor */
        }
        if (lock_byte(w->fd, F_WRLCK, LOCK_OPEN, 0) == 0) {
            if (read_hdr(w->fd, &h) && needs_recovery(w, &h)) {
                rc = recover(w, dir, &h);
                w->recovered = 1;
            }
            lock_byte(w->fd, F_RDLCK, LOCK_OPEN, 0); /* back to shared: converts in place */
            if (rc) goto fail;
            break;
        }
        if (tries >= 500) {
            rc = ent__err(ENT_BUSY, "store %s: must be recovered from its write-ahead file, and another process keeps "
                                    "it open meanwhile; retry", dir);
            goto fail;
        }
        /* 10-20 ms, differing by process and try: openers that all need the recovery (after a
         * reboot, a server's workers started together) would otherwise retry in step, each
         * holding the shared lock while another asks for the exclusive one */
        struct timespec ms = {0, 10000000 + (long)(((uint32_t)getpid() * 2654435761u + (uint32_t)tries * 40503u) % 10000000u)};
        lock_byte(w->fd, F_UNLCK, LOCK_OPEN, 0);
        nanosleep(&ms, NULL);
    }
    if (!read_only && !ent__lmdb_wal_no_direct) ent__dio_open(&w->dio, path);
    free(path);
    e->wal = w;
    return ENT_OK;
fail:
    free(path);
    if (w) {
        if (w->fd >= 0) close(w->fd);
        ent__dio_close(&w->dio);
        if (w->xs) XXH3_freeState(w->xs);
        pthread_mutex_destroy(&w->sync_mu);
        free(w);
    }
    return rc;
}

int ent__lmdb_wal_fresh(const lenv *e) { return e->wal && e->wal->fresh; }

/* Once the notify page is mapped: the shared state. Without a writable one the file is not used
 * (commits sync data.mdb as LMDB does). */
void ent__lmdb_wal_attach(lenv *e)
{
    _Static_assert(sizeof(lnotify) <= SHARED_OFF && SHARED_OFF + sizeof(wal_shared) <= 4096, "notify page layout");
    struct stat st;
    MDB_stat ms;
    /* LMDB's page size, not the system's: the meta page of the store's creation sets it (a store
     * made elsewhere, or LMDB's cap of 32 KiB on a system of 64 KiB pages) */
    if (e->wal && !e->wal->read_only && e->nt && e->nt_writable && e->ntfd >= 0 && fstat(e->ntfd, &st) == 0 &&
        st.st_size >= 4096 && mdb_env_stat(e->env, &ms) == 0) {
        lwal *w = e->wal;
        wal_hdr h;
        w->psize = ms.ms_psize;
        w->sh = (wal_shared *)((char *)e->nt + SHARED_OFF);
        if (w->recovered) w->sh->magic = 0; /* what it says is before the recovery */
        /* Shared state that names a generation other than the header's is from before a recovery
         * it did not see: a reader's (which maps none), or a writer's before its attach clears
         * it. Its key only tells boots apart when the boot id is known: without one (no /proc)
         * it passed for the file's, and commits were logged in a generation the header no longer
         * names (and the last close, finding the header inactive, did not checkpoint). Under the
         * log lock when it is free (a checkpoint changes both, header first); else a checkpoint
         * under way may make them differ for a moment, and the state is dropped for nothing (the
         * next durable commit checkpoints): waiting would hold this open for the whole of another
         * process's write txn, which keeps the lock. */
        else if (shared_valid(w)) {
            int held = lock_byte(w->fd, F_WRLCK, LOCK_LOG, 0) == 0;
            if (shared_valid(w) && (!read_hdr(w->fd, &h) || h.gen != w->sh->gen)) w->sh->magic = 0;
            if (held) lock_byte(w->fd, F_UNLCK, LOCK_LOG, 0);
        }
    }
}

void ent__lmdb_wal_close(lenv *e, int in_child)
{
    lwal *w = e->wal;
    if (!w) return;
    /* w->rt: aborted before the environment closed (rcache_drain); a child leaves it. w->sh: in
     * the notify page, unmapped with it. */
    if (w->fd >= 0) close(w->fd); /* lets the locks of this open go (a child has closed its copy at fork) */
    ent__dio_close(&w->dio);
    XXH3_freeState(w->xs);
    if (!in_child) pthread_mutex_destroy(&w->sync_mu); /* a child's copy may be held by a thread it lacks */
    free(w->fl.rec);
    free(w->fl.ids);
    free(w->fl.bits);
    free(w->nfl.rec);
    free(w->nfl.ids);
    free(w->nfl.bits);
    free(w->gone);
    free(w->dirty);
    free(w->ent);
    free(w->img);
    free(w->iov);
    free(w);
    e->wal = NULL;
}

/* ---- the free list ---------------------------------------------------------------------------- */

static int read_txn(lenv *e, MDB_txn **out)
{
    lwal *w = e->wal;
    int mrc;
    if (w->rt && (mrc = mdb_txn_renew(w->rt)) == 0) {
        *out = w->rt;
        return 0;
    }
    if (w->rt) mdb_txn_abort(w->rt);
    w->rt = NULL;
    if ((mrc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &w->rt))) return mrc;
    *out = w->rt;
    return 0;
}

/* Capacity for need items of size sz in *p (grown by doubling). */
static int grow(void **p, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    void *q = realloc(*p, n * sz);
    if (!q) return ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

/* Pages of fl's record r into gone. */
static int add_gone(lwal *w, const wal_frec *r)
{
    if (grow((void **)&w->gone, &w->gone_cap, w->gone_n + r->n, sizeof *w->gone)) return ENOMEM;
    memcpy(w->gone + w->gone_n, w->fl.ids + r->off, r->n * sizeof *w->gone);
    w->gone_n += r->n;
    return 0;
}

/* The free list of rt's snapshot into w->nfl, told apart from w->fl record by record: a record
 * of the same txn and the same pages is unchanged (a comparison of bytes), the pages of the others
 * go into gone (fl's side) or are set in the bitmap (nfl's). */
static int read_free(lenv *e, MDB_txn *rt)
{
    lwal *w = e->wal;
    struct wal_free *o = &w->fl, *n = &w->nfl;
    MDB_cursor *c;
    MDB_val k, v;
    size_t i = 0, added = 0;
    int mrc;
    n->rec_n = n->ids_n = 0;
    w->gone_n = 0;
    /* the bitmap starts as fl's: changed and new records' pages are set, gone ones cleared */
    if (grow((void **)&n->bits, &n->words, o->words, sizeof *n->bits)) return ENOMEM;
    if (o->words) memcpy(n->bits, o->bits, o->words * sizeof *n->bits);
    if (n->words > o->words) memset(n->bits + o->words, 0, (n->words - o->words) * sizeof *n->bits);
    if ((mrc = mdb_cursor_open(rt, 0, &c))) return mrc; /* table 0: LMDB's free list */
    while ((mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
        /* the txn that freed them (a size_t key), and a list of page numbers (MDB_IDL: its
         * length, then the numbers) as LMDB stored it: in a node of a leaf page, so not always
         * aligned for a size_t */
        const unsigned char *idl = v.mv_data;
        size_t cnt = 0, txn = 0;
        if (v.mv_size >= sizeof cnt) memcpy(&cnt, idl, sizeof cnt);
        if (k.mv_size != sizeof txn || v.mv_size < sizeof cnt || cnt > v.mv_size / sizeof cnt - 1) {
            mrc = MDB_CORRUPTED;
            break;
        }
        memcpy(&txn, k.mv_data, sizeof txn);
        if (grow((void **)&n->rec, &n->rec_cap, n->rec_n + 1, sizeof *n->rec) ||
            grow((void **)&n->ids, &n->ids_cap, n->ids_n + cnt, sizeof *n->ids)) {
            mrc = ENOMEM;
            break;
        }
        wal_frec *r = &n->rec[n->rec_n++];
        *r = (wal_frec){txn, n->ids_n, cnt};
        if (sizeof(size_t) == sizeof(uint64_t)) memcpy(n->ids + r->off, idl + sizeof cnt, cnt * sizeof(uint64_t));
        else
            for (size_t x = 0; x < cnt; x++) {
                size_t id;
                memcpy(&id, idl + (x + 1) * sizeof id, sizeof id);
                n->ids[r->off + x] = id;
            }
        n->ids_n += cnt;
        /* fl's records before this one's txn are gone; one of the same txn is kept when its
         * pages are the same */
        while (i < o->rec_n && o->rec[i].txn < txn)
            if ((mrc = add_gone(w, &o->rec[i++]))) break;
        if (mrc) break;
        if (i < o->rec_n && o->rec[i].txn == txn) {
            const wal_frec *q = &o->rec[i++];
            if (q->n == cnt && !memcmp(o->ids + q->off, n->ids + r->off, cnt * sizeof *n->ids)) continue;
            if ((mrc = add_gone(w, q))) break;
        }
        r->txn |= (uint64_t)1 << 63; /* new or changed: its bits are set below */
    }
    mdb_cursor_close(c);
    if (mrc != MDB_NOTFOUND) return mrc;
    while (i < o->rec_n)
        if ((mrc = add_gone(w, &o->rec[i++]))) return mrc;
    /* cleared first, then set: a page that moved from a gone record to a new one stays free */
    for (size_t x = 0; x < w->gone_n; x++)
        if (w->gone[x] / 64 < n->words) n->bits[w->gone[x] / 64] &= ~((uint64_t)1 << (w->gone[x] % 64));
    for (size_t x = 0; x < n->rec_n; x++) {
        wal_frec *r = &n->rec[x];
        if (!(r->txn >> 63)) continue;
        r->txn &= ~((uint64_t)1 << 63);
        for (size_t y = 0; y < r->n; y++)
            if (bit_set(&n->bits, &n->words, n->ids[r->off + y])) return ENOMEM;
        added += r->n;
    }
    atomic_fetch_add_explicit(&ent__lmdb_wal_free_touched, w->gone_n + added, memory_order_relaxed);
    return 0;
}

/* The list read last is now the one of snapshot txn (fl); fl's arrays are kept for the next read. */
static void keep_free(lwal *w, uint64_t gen, uint64_t txn)
{
    struct wal_free t = w->fl;
    w->fl = w->nfl;
    w->nfl = t;
    w->free_gen = gen;
    w->free_txn = txn;
}

/* The meta page of rt's snapshot (LMDB writes txn t's into slot t & 1), read from data.mdb: the
 * page cache has what LMDB wrote (LMDB maps the file without MDB_FIXEDMAP, and does not say
 * where). EAGAIN: a later commit (t + 2 or after) has written that slot since rt began, or was
 * writing it as it was read. That happens where the caller does not hold LMDB's writer and other
 * processes' writers take no lock of the write-ahead file (lazy and none commits while it is
 * inactive: ent_store_sync() of a lazy store, which the relay runs); the caller takes a newer
 * snapshot. racing: such commits may run now (read twice); a caller that holds LMDB's writer
 * passes 0, and a commit's record costs one read. */
static int snapshot_meta(lenv *e, MDB_txn *rt, unsigned char out[META_LEN], int racing)
{
    int fd;
    unsigned char again[META_LEN];
    size_t id = mdb_txn_id(rt);
    off_t off = (off_t)((id & 1) * e->wal->psize);
    if (mdb_env_get_fd(e->env, &fd)) return EINVAL;
    int err = full_pread(fd, out, META_LEN, off);
    if (err) return err < 0 ? MDB_CORRUPTED : err;
    if ((uint32_t)get64(out + OFF_MAGIC) != MDB_MAGIC_V) return MDB_CORRUPTED;
    if (get64(out + OFF_TXNID) > id) return EAGAIN;
    if (get64(out + OFF_TXNID) != id) return MDB_CORRUPTED;
    if (!racing) return 0;
    /* read again: a commit that began writing the slot while it was read left a mix of two */
    if ((err = full_pread(fd, again, META_LEN, off))) return err < 0 ? MDB_CORRUPTED : err;
    return memcmp(out, again, META_LEN) ? EAGAIN : 0;
}

/* ---- checkpoints ------------------------------------------------------------------------------ */

void (*ent__lmdb_checkpoint_read_hook)(void);

/* data.mdb synced through the current snapshot, then a new generation with base there (active: records
 * follow). Under the file's lock; the caller may hold LMDB's writer. */
static int checkpoint(lenv *e, int active)
{
    lwal *w = e->wal;
    wal_shared *sh = w->sh;
    MDB_txn *rt;
    unsigned char meta[META_LEN];
    int mrc, tries = 0;
    /* The snapshot first, its meta page read while it is the slot's (see snapshot_meta: others'
     * lazy commits may overtake it), then data.mdb synced: the base is then one the sync covers,
     * its pages kept by rt meanwhile. Synced first, a commit between the sync and the snapshot
     * made a base that was not on disk. */
    do {
        if ((mrc = read_txn(e, &rt))) return ent__lmdb_lerr(mrc, "store %s: a checkpoint's snapshot", e->path);
        if (ent__lmdb_checkpoint_read_hook) ent__lmdb_checkpoint_read_hook();
        if ((mrc = snapshot_meta(e, rt, meta, 1)) == EAGAIN) mdb_txn_reset(rt);
    } while (mrc == EAGAIN && ++tries < 1000);
    if (mrc == EAGAIN)
        return ent__err(ENT_BUSY, "store %s: a checkpoint's snapshot was overtaken by other processes' commits %d times in a row; try again",
                        e->path, tries);
    if (mrc) {
        mdb_txn_reset(rt);
        return ent__lmdb_lerr(mrc, "store %s: reading its snapshot's meta page for a checkpoint", e->path);
    }
    uint64_t base = mdb_txn_id(rt);
    if ((mrc = mdb_env_sync(e->env, 1))) {
        mdb_txn_reset(rt);
        return ent__lmdb_werr(e, mrc, "syncing data.mdb for a checkpoint (nothing of this write was committed)", 0);
    }
    if (active && (mrc = read_free(e, rt))) {
        mdb_txn_reset(rt);
        return ent__lmdb_lerr(mrc, "store %s: reading its free pages for a checkpoint", e->path);
    }
    uint64_t last_pg = get64(meta + OFF_LAST_PG);
    mdb_txn_reset(rt);
    uint64_t gen = sh->gen + 1;
    if (!shared_valid(w)) {
        /* Generations only grow: direct writes keep the start of a record's first block by
         * (generation, offset) (dio.c). A header that cannot be read now (EIO) is not one never
         * written: numbering from 1 again, a process whose last record was of the first
         * generation took its stale bytes for the new one's. */
        wal_hdr h;
        int rerr = 0;
        if (read_hdr(w->fd, &h)) gen = h.gen + 1;
        else if ((rerr = full_pread(w->fd, &h, sizeof h, 0)) > 0)
            return ent__lmdb_werr(e, rerr, "reading its write-ahead file's header for a checkpoint", 0);
        else gen = 1;
    }
    /* Unknown before the header changes: a process that dies once the new header is on the disk
     * must not leave the state of the old generation, whose records a reboot would then ignore
     * (the next durable commit would log one), for the next writer */
    sh->magic = 0;
    uint32_t seed = 0;
    int err = write_hdr(w, gen, base, active, meta, &seed);
    if (err) {
        /* data.mdb is synced; the old header may still say active with records that end before
         * base: the shared state stays unknown, so that the next writer tries again */
        return ent__lmdb_werr(e, err, "writing its write-ahead file's header", 0);
    }
    sh->gen = gen;
    sh->seed = seed;
    sh->last_txn = base;
    sh->last_pg = last_pg;
    sh->end_off = REC_START;
    atomic_store(&sh->appended, base);
    atomic_store(&sh->synced, base);
    atomic_store(&sh->active, (uint32_t)active);
    sh->boot = w->boot_key;
    sh->magic = SHARED_MAGIC;
    if (active) keep_free(w, gen, base);
    return ENT_OK;
}

/* ---- the write path --------------------------------------------------------------------------- */

int ent__lmdb_wal_lock(lenv *e, int durable)
{
    lwal *w = e->wal;
    if (!w || !w->sh || w->locked) return ENT_OK;
    wal_shared *sh = w->sh;
    /* A writer that will not log needs the lock only to end an active file (or to learn whether it
     * is: the shared state of another boot says nothing). Read again under LMDB's writer. */
    if (!durable && shared_valid(w) && !atomic_load(&sh->active)) return ENT_OK;
    int err = lock_byte(w->fd, F_WRLCK, LOCK_LOG, 1);
    if (err) return ent__err(ENT_IO, "store %s: locking its write-ahead file: %s", e->path, strerror(err));
    w->locked = 1;
    return ENT_OK;
}

void ent__lmdb_wal_unlock(lenv *e)
{
    lwal *w = e->wal;
    if (!w) return;
    w->logging = 0;
    if (!w->locked) return;
    lock_byte(w->fd, F_UNLCK, LOCK_LOG, 0);
    w->locked = 0;
}

/* The file grows to WAL_CKPT_BYTES before it is written over from its start, so on a disk of a
 * few MiB it held most of the room while data.mdb, refused the blocks for a commit's new pages,
 * could not grow: every commit failed "the disk is full" for as long as the process ran (seen:
 * 7 MiB of a 9 MiB disk, data.mdb 1.8 MiB). No record is needed once data.mdb is synced: a
 * checkpoint (inactive: the next durable commit begins a generation with one of its own, as after
 * a lazy writer), then the file cut to its header. Other processes may think the file longer
 * (their `written`): their records are then appended past its end, which only makes those syncs
 * commit the file's new size too. Failures change nothing: the commit is refused either way. */
void ent__lmdb_wal_give_back(lenv *e)
{
    lwal *w = e->wal;
    struct stat st;
    if (!w || !w->sh || !w->locked || w->read_only) return;
    if (fstat(w->fd, &st) < 0 || (uint64_t)st.st_size <= REC_START) return;
    /* the commit's own message is what the caller is told: a failed checkpoint sets its own */
    char *said = strdup(ent_errmsg());
    int detail = ent_errdetail(), code = ENT_FULL;
    if (!said) return;
    if (checkpoint(e, 0)) {
        w->sh->magic = 0; /* unknown: the next writer makes a checkpoint */
        ent__errd(code, detail, "%s", said);
    } else if (ftruncate(w->fd, (off_t)REC_START) == 0) {
        w->written = REC_START;
        ent__errd(code, detail, "%s; %" PRIu64 " KiB of its write-ahead file were given back to the disk, so the write may go "
                  "through if made again", said, ((uint64_t)st.st_size - REC_START) / 1024);
    } else {
        ent__errd(code, detail, "%s", said);
    }
    free(said);
}

/* Sync the file and mark the records appended before the sync durable, unless they are marked
 * so through need already: one step for this process's threads. The descriptor is theirs to
 * share, so the kernel tells a failed sync's error to one of them only, and the pages it could
 * not write may be dropped: a sync that succeeds after it says nothing of the records. Were two
 * syncs not serialized, the second could succeed and mark its records durable between the first
 * one's failure and its marking the state unknown. Returns 0; an errno: this sync failed (the
 * state is marked unknown: the next writer makes a checkpoint); -1: a sync failed before this one
 * or a checkpoint is under way (unknown). Other processes have descriptors of their own, each
 * told the error. */
static int sync_records(lwal *w, uint64_t need)
{
    wal_shared *sh = w->sh;
    int rc = 0;
    pthread_mutex_lock(&w->sync_mu);
    if (!shared_valid(w)) {
        rc = -1;
    } else if (atomic_load(&sh->synced) < need) { /* else a sync that ended while this one waited covered it */
        uint64_t upto = atomic_load(&sh->appended);
        if (fdatasync(w->fd) < 0) {
            rc = errno;
            sh->magic = 0;
        } else if (!shared_valid(w)) { /* another process asked for a checkpoint, or makes one */
            rc = -1;
        } else {
            uint64_t s = atomic_load(&sh->synced);
            while (s < upto && !atomic_compare_exchange_weak(&sh->synced, &s, upto)) {
            }
        }
    }
    pthread_mutex_unlock(&w->sync_mu);
    return rc;
}

/* Snapshot T's pages stay intact on the disk until commit T+3 (see the top): txn x waits for
 * the records through x-2 to be durable before it writes any page (ent__lmdb_wal_begin). A group
 * commit's sync has made them so already. */
static int wait_durable_before(lenv *e, uint64_t x)
{
    lwal *w = e->wal;
    wal_shared *sh = w->sh;
    if (x < 2 || atomic_load(&sh->synced) + 2 >= x) return ENT_OK;
    int err = sync_records(w, x - 2);
    /* the next write txn begins with a checkpoint (the state is unknown now) */
    if (err > 0) return ent__lmdb_werr(e, err, "syncing its write-ahead file", 0);
    /* Another thread's sync of this file failed (the records it could not write may be gone): a
     * checkpoint makes x-2 durable instead (this txn's pages follow it). */
    if (err < 0) return checkpoint(e, 1);
    return ENT_OK;
}

int ent__lmdb_wal_begin(ltxn *t, int durable, int *relock)
{
    lenv *e = t->e;
    lwal *w = e->wal;
    *relock = 0;
    if (!w || !w->sh) return ENT_OK;
    wal_shared *sh = w->sh;
    int valid = shared_valid(w);
    if (!w->locked) {
        /* no lock taken: this writer does not log, and the file looked inactive; LMDB's writer,
         * held now, keeps a durable writer from making it active until this commit is in */
        if (!valid || atomic_load(&sh->active)) *relock = 1;
        return ENT_OK;
    }
    uint64_t cur = (uint64_t)mdb_txn_id(t->m) - 1;
    if (!durable) {
        if (!valid || atomic_load(&sh->active)) return checkpoint(e, 0);
        return ENT_OK;
    }
    int rc;
    if (!valid || !atomic_load(&sh->active) || sh->last_txn != cur || sh->end_off > WAL_CKPT_BYTES) {
        if ((rc = checkpoint(e, 1))) return rc;
    } else if (w->free_gen != sh->gen || w->free_txn != cur) {
        /* another process logged last: its free list is cur's, read here */
        MDB_txn *rt;
        int mrc = read_txn(e, &rt);
        if (!mrc) {
            mrc = read_free(e, rt);
            mdb_txn_reset(rt);
        }
        if (mrc) return ent__lmdb_lerr(mrc, "store %s: reading its free pages", e->path);
        keep_free(w, sh->gen, cur);
    }
    /* Before the txn writes a page, not before its commit: a large txn spills dirty pages into
     * data.mdb on the way (mdb_page_spill), into pages freed by commit cur-1 that snapshot cur-2
     * still uses, and the writeback may take them to the disk before a power cut. */
    if ((rc = wait_durable_before(e, cur + 1))) return rc;
    w->logging = 1;
    return ENT_OK;
}

int ent__lmdb_wal_usable(const lenv *e)
{
    return e->wal && e->wal->sh;
}

int ent__lmdb_wal_logging(const lenv *e)
{
    return e->wal && e->wal->logging;
}


/* Blocks written ahead of the records, so that a record overwrites blocks the file has: an
 * append past the file's end makes its sync also commit the file's new size and blocks to the
 * journal (measured: ~300 us for a group's record against ~150). 1 MiB at a time: the sync after
 * it writes that much more (~2 ms here; growing by doubling made single syncs of 10-30 ms), and
 * only until the file first reaches WAL_CKPT_BYTES, after which it is written over. What a full
 * disk refuses is given back (the commit is then made durable by a checkpoint). */
#define EXTEND_BY ((uint64_t)1 << 20)
static int extend(lwal *w, uint64_t need)
{
    static const unsigned char zero[65536];
    struct stat st;
    if (need <= w->written) return 0;
    if (fstat(w->fd, &st) < 0) return errno;
    w->written = (uint64_t)st.st_size;
    if (need <= w->written) return 0;
    uint64_t to = (need + EXTEND_BY - 1) / EXTEND_BY * EXTEND_BY;
    /* Written directly when records are (dio.c): zeros left in the page cache would be written
     * back by the first record's direct write over them, as part of that commit. From the first
     * aligned block on; a file of another size (made elsewhere) has its head written buffered. */
    uint64_t from = (w->written + ENT_DIO_ALIGN - 1) & ~(uint64_t)(ENT_DIO_ALIGN - 1);
    int err = EINVAL;
    if (w->dio.fd >= 0 && from < to) {
        err = from > w->written ? full_pwrite(w->fd, zero, (size_t)(from - w->written), (off_t)w->written) : 0;
        if (!err) err = ent__dio_zero(&w->dio, from, to - from);
    }
    if (err == EINVAL || err == ENOMEM) { /* buffered */
        err = 0;
        for (uint64_t off = w->written; off < to && !err; off += sizeof zero) err = full_pwrite(w->fd, zero, sizeof zero, (off_t)off);
    }
    if (err) {
        if (ftruncate(w->fd, (off_t)w->written) < 0) { /* the blocks stay; the next try reuses them */
        }
        return err;
    }
    w->written = to;
    return 0;
}

/* Tests: 1 makes every record read its pages with pread, as when LMDB's map is not found; and the
 * records whose pages were read from the map. */
int ent__lmdb_wal_no_map;
_Atomic uint64_t ent__lmdb_wal_from_map;
_Atomic uint64_t ent__lmdb_wal_sorted;
_Atomic uint64_t ent__lmdb_wal_free_touched;
int ent__lmdb_wal_no_direct;
int ent__lmdb_wal_ro_cannot_write;
_Atomic uint64_t ent__lmdb_wal_direct;

/* Where LMDB maps data.mdb, to read the record's page images in place; NULL when unknown (the
 * caller reads the pages instead). Why: a record of a group of 8 small creates read its ~20 pages
 * with ~23 preads into a buffer, then moved their used parts together; from the map it is one
 * pwritev of the pieces where they are. LMDB does not say where its map is (mdb_env_info's address
 * is the one a MDB_FIXEDMAP store asked for), and moves it when the map grows, so it is found for
 * each record: a read txn gives a key of the main table as a pointer into the map, inside a leaf
 * page whose header names its number. The page's start is the pointer rounded down to the page
 * size when the map's start is a multiple of it, which it is when LMDB's page size divides the
 * system's (mmap aligns to that: a store made where pages are larger is read with pread). The meta
 * page of snapshot s where that says the map begins confirms it. A map of our own would cost the
 * address space of data.mdb once more (refused under ulimit -v where LMDB's fits). */
static const unsigned char *lmdb_map(lwal *w, MDB_txn *rt, uint64_t s, uint64_t last_pg)
{
    MDB_cursor *c;
    MDB_val k, v;
    const unsigned char *base = NULL;
    if (ent__lmdb_wal_no_map || (size_t)getpagesize() % w->psize || mdb_cursor_open(rt, 1, &c)) return NULL; /* 1: MAIN_DBI */
    if (mdb_cursor_get(c, &k, &v, MDB_FIRST) == 0 && k.mv_size) {
        const unsigned char *pg = (const unsigned char *)((uintptr_t)k.mv_data / w->psize * w->psize);
        uint16_t flags;
        uint64_t pgno = get64(pg);
        memcpy(&flags, pg + PG_FLAGS, 2);
        if ((flags & P_LEAF) && pgno >= 2 && pgno <= last_pg && (uintptr_t)pg >= pgno * w->psize) {
            const unsigned char *m = pg - pgno * w->psize + (s & 1) * w->psize;
            if ((uint32_t)get64(m + OFF_MAGIC) == MDB_MAGIC_V && get64(m + OFF_TXNID) == s)
                base = pg - pgno * w->psize;
        }
    }
    mdb_cursor_close(c);
    return base;
}

/* One more piece of a record: joined to the last one when it follows it in memory (pages side by
 * side in the map; the three first pieces are the record's header, entries and meta). */
static size_t add_piece(struct iovec *v, size_t n, const unsigned char *p, size_t len)
{
    if (!len) return n;
    if (n > 3 && (const unsigned char *)v[n - 1].iov_base + v[n - 1].iov_len == p) {
        v[n - 1].iov_len += len;
        return n;
    }
    v[n] = (struct iovec){(void *)p, len};
    return n + 1;
}

/* The record of the commit just made. On failure the commit is in the store but not logged: the
 * caller makes it durable otherwise (ent__lmdb_wal_fallback). */
int ent__lmdb_wal_append(lenv *e, uint64_t *out_txn)
{
    lwal *w = e->wal;
    wal_shared *sh = w->sh;
    MDB_txn *rt;
    unsigned char meta[META_LEN];
    int mrc, dfd;
    if ((mrc = read_txn(e, &rt))) return mrc;
    uint64_t s = mdb_txn_id(rt);
    if (s == sh->last_txn) {
        /* LMDB's commit of a txn that changed nothing keeps its number: no record (one ending
         * where the last ended would end the chain a replay follows), durable with the last */
        *out_txn = s;
        goto out;
    }
    if ((mrc = read_free(e, rt)) || (mrc = snapshot_meta(e, rt, meta, 0)) || (mrc = mdb_env_get_fd(e->env, &dfd))) goto out;
    uint64_t last_pg = get64(meta + OFF_LAST_PG);
    /* pages free before and not now, and pages past the last one before (but not free now) */
    size_t nd = 0;
    uint64_t tail = last_pg > sh->last_pg ? last_pg - sh->last_pg : 0;
    if (grow_u64(&w->dirty, &w->dirty_cap, w->gone_n + tail)) {
        mrc = ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < w->gone_n; i++)
        if (!bit_test(w->nfl.bits, w->nfl.words, w->gone[i])) w->dirty[nd++] = w->gone[i];
    /* ascending, for the runs of adjacent pages below: the few a commit took, sorted (once each:
     * a page in two records of a damaged list) */
    if (nd > 1) {
        size_t u = 1;
        atomic_fetch_add_explicit(&ent__lmdb_wal_sorted, nd, memory_order_relaxed);
        qsort(w->dirty, nd, sizeof *w->dirty, cmp_u64);
        for (size_t i = 1; i < nd; i++)
            if (w->dirty[i] != w->dirty[u - 1]) w->dirty[u++] = w->dirty[i];
        nd = u;
    }
    for (uint64_t pg = sh->last_pg + 1; pg <= last_pg; pg++)
        if (!bit_test(w->nfl.bits, w->nfl.words, pg)) w->dirty[nd++] = pg;
    /* The images: from a map of data.mdb (rt keeps them from being reused), else read a run of
     * adjacent pages at a time into a buffer. */
    const unsigned char *map = lmdb_map(w, rt, s, last_pg);
    if (map) atomic_fetch_add_explicit(&ent__lmdb_wal_from_map, 1, memory_order_relaxed);
    else {
        size_t bytes = nd * w->psize;
        if (bytes > w->img_cap) {
            unsigned char *p = realloc(w->img, bytes);
            if (!p) {
                mrc = ENOMEM;
                goto out;
            }
            w->img = p;
            w->img_cap = bytes;
        }
        for (size_t k = 0; k < nd;) {
            size_t run = 1;
            while (k + run < nd && w->dirty[k + run] == w->dirty[k] + run) run++;
            int err = full_pread(dfd, w->img + k * w->psize, run * w->psize, (off_t)(w->dirty[k] * w->psize));
            if (err) {
                mrc = err < 0 ? MDB_CORRUPTED : err;
                goto out;
            }
            k += run;
        }
    }
    /* each page's entry, and its image without the unused middle of a branch or leaf page; an
     * overflow page's run (its first page says how many follow, all allocated with it) whole:
     * pieces written in place, those that follow each other in memory as one */
    if (w->ent_cap < nd) {
        wal_page *p = realloc(w->ent, nd * sizeof *p);
        if (!p) {
            mrc = ENOMEM;
            goto out;
        }
        w->ent = p;
        w->ent_cap = nd;
    }
    if (w->iov_cap < 3 + 2 * nd) {
        struct iovec *p = realloc(w->iov, (3 + 2 * nd) * sizeof *p);
        if (!p) {
            mrc = ENOMEM;
            goto out;
        }
        w->iov = p;
        w->iov_cap = 3 + 2 * nd;
    }
    size_t kept = 0, niov = 3;
    uint64_t raw_until = 0; /* overflow pages up to here are data, not headers */
    for (size_t k = 0; k < nd; k++) {
        const unsigned char *pg = map ? map + w->dirty[k] * w->psize : w->img + k * w->psize;
        uint32_t lo = w->psize, hi = w->psize;
        uint16_t flags, lower, upper;
        memcpy(&flags, pg + PG_FLAGS, 2);
        memcpy(&lower, pg + PG_LOWER, 2);
        memcpy(&upper, pg + PG_UPPER, 2);
        if (w->dirty[k] <= raw_until) {
            /* an overflow page's data */
        } else if ((flags & P_OVERFLOW) && get64(pg) == w->dirty[k]) {
            uint32_t n;
            memcpy(&n, pg + PG_LOWER, 4);
            raw_until = w->dirty[k] + (n ? n - 1 : 0);
        } else if ((flags & (P_BRANCH | P_LEAF)) && !(flags & (P_LEAF2 | P_OVERFLOW | P_META)) && get64(pg) == w->dirty[k] &&
                   lower >= 16 && lower <= upper && upper <= w->psize) {
            lo = lower;
            hi = upper;
        }
        w->ent[k] = (wal_page){w->dirty[k], lo, hi};
        niov = add_piece(w->iov, niov, pg, lo);
        niov = add_piece(w->iov, niov, pg + hi, w->psize - hi);
        kept += lo + (w->psize - hi);
    }
    wal_rec r = {REC_MAGIC, w->psize, sh->gen, sh->last_txn, s, nd, kept, 0};
    w->iov[0] = (struct iovec){&r, sizeof r};
    w->iov[1] = (struct iovec){w->ent, nd * sizeof *w->ent};
    w->iov[2] = (struct iovec){meta, META_LEN};
    XXH3_64bits_reset_withSeed(w->xs, sh->seed);
    for (size_t k = 0; k < niov; k++) XXH3_64bits_update(w->xs, w->iov[k].iov_base, w->iov[k].iov_len);
    r.csum = XXH3_64bits_digest(w->xs);
    uint64_t off = sh->end_off, len = sizeof r + nd * sizeof *w->ent + META_LEN + kept;
    if ((mrc = extend(w, off + len))) goto out;
    mrc = w->dio.fd >= 0 ? ent__dio_pwritev(&w->dio, w->iov, niov, off, sh->gen) : EINVAL;
    if (!mrc) atomic_fetch_add_explicit(&ent__lmdb_wal_direct, 1, memory_order_relaxed);
    else if (mrc == EINVAL || mrc == ENOMEM) /* no direct writes here, or no staging buffer now */
        mrc = full_pwritev(w->fd, w->iov, niov, (off_t)off);
    if (mrc) goto out;
    off += len;
    /* last_txn last: it says the others are s's */
    sh->last_pg = last_pg;
    sh->end_off = off;
    sh->last_txn = s;
    atomic_store(&sh->appended, s);
    keep_free(w, sh->gen, s);
    *out_txn = s;
out:
    mdb_txn_reset(rt);
    return mrc;
}

/* The commit is in the store but its record is not: make it durable the way LMDB would, and end
 * the file's generation (a reboot must not replay records that stop before it). */
int ent__lmdb_wal_fallback(lenv *e)
{
    int rc = checkpoint(e, 0);
    if (rc) e->wal->sh->magic = 0;
    return rc;
}

int ent__lmdb_wal_sync_visible(lenv *e)
{
    lwal *w = e->wal;
    wal_shared *sh = w->sh;
    MDB_envinfo ei;
    int active = shared_valid(w) && atomic_load(&sh->active);
    /* every commit logged (the usual case: the relay of a durable store): a sync of the file */
    if (active && mdb_env_info(e->env, &ei) == 0 && sh->last_txn == (uint64_t)ei.me_last_txnid) {
        int err = sync_records(w, atomic_load(&sh->appended));
        if (err > 0)
            return ent__lmdb_lerr(err, "store %s: syncing its write-ahead file: the commits so far are not known to be on disk",
                                  e->path);
        if (err == 0) return ENT_OK;
        active = 0; /* another thread's sync failed first (see sync_records) */
    }
    return checkpoint(e, active);
}

int ent__lmdb_wal_synced_all(lenv *e)
{
    lwal *w = e->wal;
    MDB_envinfo ei;
    int mrc;
    /* Active only: then every writer takes the file's lock to commit (logging, or ending the file
     * with a checkpoint first), so the base a checkpoint read after its sync of data.mdb is what
     * it synced. An inactive file's checkpoint leaves other processes' lazy and none writers
     * free: one's commit between that sync and the base's read made a base that is not durable. */
    if (!w || !w->sh || !shared_valid(w) || !atomic_load(&w->sh->active)) return 0;
    wal_shared *sh = w->sh;
    uint64_t gen = atomic_load(&sh->gen), upto = atomic_load(&sh->appended), synced = atomic_load(&sh->synced);
    /* LMDB's last txn read after them: a commit since is not one this sync must cover. It reads
     * the map, which a resize replaces: under a hold, as a txn's reads are. */
    if (ent__lmdb_hold_acquire(e)) return 0;
    mrc = atomic_load(&e->unmapped) ? -1 : mdb_env_info(e->env, &ei);
    ent__lmdb_hold_release(e);
    if (mrc || (uint64_t)ei.me_last_txnid != upto || synced < upto) return 0;
    return shared_valid(w) && atomic_load(&sh->active) && atomic_load(&sh->gen) == gen;
}

/* Records durable through txn (of generation gen, or a checkpoint has made them so). -1: not
 * known (the shared state is unknown: a sync failed, or a checkpoint is under way); the caller
 * makes the commit durable with a checkpoint instead. */
int ent__lmdb_wal_sync(lenv *e, uint64_t gen, uint64_t txn)
{
    lwal *w = e->wal;
    wal_shared *sh = w->sh;
    if (gen != sh->gen || atomic_load(&sh->synced) >= txn) return ENT_OK;
    /* A failure (err > 0) leaves the file's content unknown: the next writer makes a checkpoint,
     * whose sync of data.mdb makes this commit durable after all. -1: a sync that failed before
     * this one may have dropped records this one's chain needs. */
    return sync_records(w, txn);
}

uint64_t ent__lmdb_wal_gen(const lenv *e)
{
    return e->wal && e->wal->sh ? e->wal->sh->gen : 0;
}

/* The last process to close a store ends the file's generation (a sync of data.mdb), so that a
 * read-only open after the next boot has nothing to put back. Before the environment closes;
 * failures are left to the next open (a recovery then). */
void ent__lmdb_wal_quiesce(lenv *e)
{
    lwal *w = e->wal;
    wal_hdr h;
    if (!w || !w->sh || w->read_only) return;
    if (lock_byte(w->fd, F_WRLCK, LOCK_OPEN, 0)) return; /* others have the store open */
    if (read_hdr(w->fd, &h) && h.active && lock_byte(w->fd, F_WRLCK, LOCK_LOG, 0) == 0) {
        checkpoint(e, 0);
        lock_byte(w->fd, F_UNLCK, LOCK_LOG, 0);
    }
    lock_byte(w->fd, F_RDLCK, LOCK_OPEN, 0);
}

/* In a child just forked (backend_lmdb_env.c): its copy of the descriptor must not keep the
 * parent's locks on the file alive. */
void ent__lmdb_wal_forget_fd(lenv *e)
{
    if (e->wal && e->wal->fd >= 0) {
        close(e->wal->fd);
        e->wal->fd = -1;
    }
    if (e->wal) ent__dio_close(&e->wal->dio);
}

/* Before a remap or a close: no txn of the process, not even a reset one (rcache_drain). */
void ent__lmdb_wal_drop_reader(lenv *e)
{
    if (e->wal && e->wal->rt) {
        mdb_txn_abort(e->wal->rt);
        e->wal->rt = NULL;
    }
}

/* Tests: 1 when page pg is free in the snapshot the last record (of this process) ended at. */
int ent__lmdb_wal_page_free(const lenv *e, uint64_t pg)
{
    const lwal *w = e->wal;
    return w && bit_test(w->fl.bits, w->fl.words, pg);
}

/* Tests: the txn through which this generation's records are known durable. */
uint64_t ent__lmdb_wal_synced(const lenv *e)
{
    return e->wal && e->wal->sh ? atomic_load(&e->wal->sh->synced) : 0;
}
