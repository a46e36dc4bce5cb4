/* The LMDB backend's page check (check_pages, for verify): every B-tree of a read txn's snapshot
 * walked in data.mdb with pread(), never through the map, checking each page's header and node
 * bounds before anything follows them.
 *
 * Why: LMDB trusts its file. A flipped byte in a page header or a node header (a bound, a size, a
 * child's page number) makes its cursors read outside the page: SIGSEGV, SIGBUS, or an assertion
 * that aborts the process. `entity check`, the tool that should name such damage, died of it
 * before it could say anything. Verify runs this walk first and stops at what it finds, so that no
 * LMDB cursor meets a page the walk refused.
 *
 * The layout read here is LMDB 0.9's on-disk format (lmdb.h's MDB_page, MDB_node, MDB_db,
 * MDB_meta), fixed by its data version (1), which mdb_env_open() checked already. Uses
 * backend_lmdb_int.h; used by backend_lmdb.c's vtable. */
#include <inttypes.h>

#include "backend_lmdb_int.h"

#define P_BRANCH 0x01
#define P_LEAF 0x02
#define P_OVERFLOW 0x04
#define P_LEAF2 0x20
#define F_BIGDATA 0x01
#define F_SUBDATA 0x02
#define F_DUPDATA 0x04
#define PAGEHDR 16
#define NODEHDR 8
#define DBSIZE 48      /* MDB_db */
#define MAX_DEPTH 32   /* LMDB's cursor stack: no tree is deeper */
/* Trees within trees: the main table holds the named tables, a DUPSORT table's key its values'
 * tree, and nothing deeper. A record past that is damage: followed, a chain of pages each naming
 * the next as a table recursed once per page (a damaged file of 4096 such pages overflowed a
 * 256 KiB stack). */
#define NEST_MAIN 0
#define NEST_NAMED 1
#define NEST_DUPS 2
#define NEST_FREE 3 /* the free list: page lists, no tree in it */
/* A named table that is no DUPSORT table (its record's flags lack MDB_DUPSORT): like the main
 * table, it holds no values of a key (a node flagged F_DUPDATA sent LMDB's cursor to a cursor of
 * values it has not: SIGSEGV, at every open when the table was "meta"). */
#define NEST_PLAIN 4
#define MDB_DUPSORT_FLAG 0x04
#define MAX_REPORTS 50 /* a page full of garbage would otherwise report every node */
/* Which children of a branch page a walk follows: all (check), or the open's walk of the log's
 * two edges, the paths to its first and its last page. */
#define EDGE_ALL 0
#define EDGE_FIRST 1
#define EDGE_LAST 2
#define EDGE_BOTH 3

typedef struct pwalk {
    int fd;
    uint32_t psize;
    uint64_t last; /* the snapshot's last page in use */
    uint8_t *seen; /* one bit per page: a page reached twice is a loop or a shared page */
    void (*cb)(const char *line, void *payload);
    void *payload;
    uint64_t problems;
    int rc; /* an error that stops the walk (I/O, memory), not damage */
    /* The open's walk: the main table's own pages and, at a writable open, the small tables every
     * write reads (meta, subs) whole and the log's two edges; no other named table (their pages
     * are the data). */
    int main_only;
    const char *only; /* one named table's pages (with the main table's), or NULL: all */
    int writable;
    int main_bad; /* damage named in the main table itself, not in a table it holds */
    int meta_bad; /* damage named in "meta" */
} pwalk;

static uint16_t u16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t u32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t u64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static void bad(pwalk *w, const char *tree, uint64_t pg, const char *fmt, ...) ENT__PRINTF(4, 5);
static void bad(pwalk *w, const char *tree, uint64_t pg, const char *fmt, ...)
{
    char what[256], line[512];
    va_list ap;
    if (!strcmp(tree, "(main)")) w->main_bad = 1;
    if (!strcmp(tree, "meta")) w->meta_bad = 1;
    if (++w->problems > MAX_REPORTS) return;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(line, sizeof line, "data.mdb page %" PRIu64 " (table %s): %s%s", pg, tree, what,
             w->problems == MAX_REPORTS ? " (further damage not listed)" : "");
    if (w->cb) w->cb(line, w->payload);
}

/* Claim page pg for the walk: 0 when it is out of range or reached before (reported). */
static int claim(pwalk *w, const char *tree, uint64_t from, uint64_t pg)
{
    if (pg < 2 || pg > w->last) {
        bad(w, tree, from, "refers to page %" PRIu64 ", outside the pages in use (2 to %" PRIu64 ")", pg, w->last);
        return 0;
    }
    if (w->seen[pg / 8] & (1u << (pg % 8))) {
        bad(w, tree, from, "refers to page %" PRIu64 ", which another page refers to too", pg);
        return 0;
    }
    w->seen[pg / 8] |= (uint8_t)(1u << (pg % 8));
    return 1;
}

static int read_page(pwalk *w, uint64_t pg, unsigned char *buf, size_t n)
{
    ssize_t got = pread(w->fd, buf, n, (off_t)(pg * w->psize));
    if (got == (ssize_t)n) return 1;
    w->rc = ent__err(ENT_IO, "reading data.mdb page %" PRIu64 ": %s", pg, got < 0 ? strerror(errno) : "short read");
    return 0;
}

static void walk_tree(pwalk *w, const char *tree, const unsigned char *db, uint64_t from, unsigned nest, unsigned edge);

/* The overflow pages of a big value of dsize bytes starting at pg. */
static void walk_overflow(pwalk *w, const char *tree, uint64_t from, uint64_t pg, uint64_t dsize)
{
    unsigned char h[PAGEHDR];
    uint32_t n;
    if (!claim(w, tree, from, pg) || !read_page(w, pg, h, sizeof h)) return;
    n = u32(h + 12);
    if (u64(h) != pg || !(u16(h + 10) & P_OVERFLOW)) {
        bad(w, tree, pg, "is not the overflow page its leaf %" PRIu64 " names (header: page %" PRIu64 ", flags 0x%x)",
            from, u64(h), u16(h + 10));
        return;
    }
    if (n == 0 || pg + n - 1 > w->last || (uint64_t)n * w->psize - PAGEHDR < dsize) {
        bad(w, tree, pg, "overflow of %" PRIu32 " pages cannot hold its value of %" PRIu64 " bytes within the pages in use",
            n, dsize);
        return;
    }
    for (uint64_t i = 1; i < n; i++) w->seen[(pg + i) / 8] |= (uint8_t)(1u << ((pg + i) % 8));
}

/* The nodes of a DUPSORT key's sub-page (its values, keys only), held in its leaf's data. */
static void walk_subpage(pwalk *w, const char *tree, uint64_t pg, const unsigned char *sp, uint64_t size)
{
    uint16_t lower, upper, flags;
    if (size < PAGEHDR) {
        bad(w, tree, pg, "a sub-page of %" PRIu64 " bytes is shorter than its header", size);
        return;
    }
    flags = u16(sp + 10);
    lower = u16(sp + 12);
    upper = u16(sp + 14);
    if (!(flags & P_LEAF) || lower < PAGEHDR || (lower - PAGEHDR) % 2 || lower > upper || upper > size) {
        bad(w, tree, pg, "a sub-page has flags 0x%x and bounds %u/%u in %" PRIu64 " bytes", flags, lower, upper, size);
        return;
    }
    if (flags & P_LEAF2) return; /* fixed-size values between the bounds: nothing to follow */
    for (unsigned i = 0; i < (lower - PAGEHDR) / 2u; i++) {
        uint16_t off = u16(sp + PAGEHDR + 2 * i);
        if (off < upper || (uint64_t)off + NODEHDR > size || (uint64_t)off + NODEHDR + u16(sp + off + 6) > size) {
            bad(w, tree, pg, "a sub-page's value %u lies outside it", i);
            return;
        }
        /* A value is a key alone: LMDB never sets a node flag in it, and one that says it holds
         * values of its own sends the values' cursor to a cursor under it that none has (SIGSEGV). */
        if (u16(sp + off + 4) & (F_BIGDATA | F_SUBDATA | F_DUPDATA)) {
            bad(w, tree, pg, "a sub-page's value %u has flags 0x%x, which no value has", i, u16(sp + off + 4));
            return;
        }
    }
}

static void walk_page(pwalk *w, const char *tree, uint64_t from, uint64_t pg, unsigned level, unsigned depth,
                      unsigned nest, unsigned edge)
{
    unsigned char *p;
    uint16_t flags, lower, upper;
    unsigned n;
    if (w->rc || !claim(w, tree, from, pg)) return;
    if (!(p = malloc(w->psize))) {
        w->rc = ent__err(ENT_NOMEM, "out of memory");
        return;
    }
    if (!read_page(w, pg, p, w->psize)) goto out;
    flags = u16(p + 10) & (P_BRANCH | P_LEAF | P_OVERFLOW | P_LEAF2);
    lower = u16(p + 12);
    upper = u16(p + 14);
    if (u64(p) != pg) {
        bad(w, tree, pg, "holds the header of page %" PRIu64, u64(p));
        goto out;
    }
    if (flags != (level < depth ? P_BRANCH : P_LEAF) && !(level == depth && flags == (P_LEAF | P_LEAF2))) {
        bad(w, tree, pg, "has flags 0x%x, not those of a %s page at level %u of %u", u16(p + 10),
            level < depth ? "branch" : "leaf", level, depth);
        goto out;
    }
    if (lower < PAGEHDR || (lower - PAGEHDR) % 2 || lower > upper || upper > w->psize) {
        bad(w, tree, pg, "has bounds %u/%u, outside a page of %" PRIu32 " bytes", lower, upper, w->psize);
        goto out;
    }
    n = (lower - PAGEHDR) / 2u;
    /* LMDB keeps two keys or more on a branch page of every table but the free list (its
     * rebalance merges one with fewer) and asserts so when it searches one: abort(). */
    if ((flags & P_BRANCH) && n < 2 && nest != NEST_FREE) {
        bad(w, tree, pg, "is a branch page of %u keys, fewer than the 2 every branch page holds", n);
        goto out;
    }
    if (flags & P_LEAF2) goto out; /* fixed-size keys between the bounds: nothing to follow */
    for (unsigned i = 0; i < n && !w->rc; i++) {
        uint16_t off = u16(p + PAGEHDR + 2 * i), ks;
        const unsigned char *node = p + off, *data;
        uint64_t dsize;
        if (off < upper || (uint32_t)off + NODEHDR > w->psize) {
            bad(w, tree, pg, "node %u at offset %u lies outside the page's nodes (%u to %" PRIu32 ")", i, off, upper,
                w->psize);
            continue;
        }
        ks = u16(node + 6);
        data = node + NODEHDR + ks;
        if ((uint32_t)off + NODEHDR + ks > w->psize) {
            bad(w, tree, pg, "node %u has a key of %u bytes, past the page's end", i, ks);
            continue;
        }
        if (flags & P_BRANCH) {
            uint64_t child = (uint64_t)u16(node) | (uint64_t)u16(node + 2) << 16 | (uint64_t)u16(node + 4) << 32;
            if (edge == EDGE_ALL) walk_page(w, tree, pg, child, level + 1, depth, nest, EDGE_ALL);
            else if (i == 0 && (edge & EDGE_FIRST)) walk_page(w, tree, pg, child, level + 1, depth, nest, EDGE_FIRST);
            else if (i == n - 1 && (edge & EDGE_LAST)) walk_page(w, tree, pg, child, level + 1, depth, nest, EDGE_LAST);
            continue;
        }
        dsize = (uint64_t)u16(node) | (uint64_t)u16(node + 2) << 16;
        if (u16(node + 4) & F_BIGDATA) {
            if ((uint32_t)off + NODEHDR + ks + 8 > w->psize) {
                bad(w, tree, pg, "node %u's overflow page number lies past the page's end", i);
                continue;
            }
            walk_overflow(w, tree, pg, u64(data), dsize);
            continue;
        }
        if ((uint64_t)off + NODEHDR + ks + dsize > w->psize) {
            bad(w, tree, pg, "node %u has a value of %" PRIu64 " bytes, past the page's end", i, dsize);
            continue;
        }
        if (u16(node + 4) & F_SUBDATA) {
            char name[128];
            int dups = (u16(node + 4) & F_DUPDATA) != 0;
            if (nest != (dups ? NEST_NAMED : NEST_MAIN)) { /* NEST_PLAIN: neither */
                bad(w, tree, pg, "node %u holds the record of a %s, which this table cannot hold", i,
                    dups ? "DUPSORT key's values" : "named table");
                continue;
            }
            if (dsize != DBSIZE) {
                bad(w, tree, pg, "node %u holds a table record of %" PRIu64 " bytes, not %d", i, dsize, DBSIZE);
                continue;
            }
            /* A named table of the main one (its key is the name), or a DUPSORT key's values. */
            if (u16(node + 4) & F_DUPDATA) snprintf(name, sizeof name, "%s", tree);
            else snprintf(name, sizeof name, "%.*s", ks < 100 ? (int)ks : 100, (const char *)node + NODEHDR);
            if (w->only && nest == NEST_MAIN && strcmp(name, w->only)) continue;
            if (w->main_only && nest == NEST_MAIN) {
                /* The store's own tables that every write reads through LMDB (store.c, log*.c):
                 * "meta" (the schema, the log's last seq) and "subs" are small and walked whole;
                 * a write appends to the "log" at its end and reads its first event (a trim, the
                 * subscriptions' lag), so the paths to both ends are walked (a few pages). A
                 * damaged page of them made every write die inside liblmdb (SIGSEGV, or an
                 * assertion's abort). A read-only open walks "meta" only, which every open reads
                 * (the schema): the reads that do not meet a damaged page of the others (a dump of
                 * what is sound) still go on. A type's records and indexes are walked by `check`,
                 * `dump` (ent_type_check_pages) and a compacting copy. */
                if (!strcmp(name, "meta")) walk_tree(w, name, data, pg, NEST_NAMED, EDGE_ALL);
                else if (!w->writable) continue;
                else if (!strcmp(name, "subs")) walk_tree(w, name, data, pg, NEST_NAMED, EDGE_ALL);
                else if (!strcmp(name, "log")) walk_tree(w, name, data, pg, NEST_NAMED, EDGE_BOTH);
                continue;
            }
            walk_tree(w, name, data, pg, dups ? NEST_DUPS : NEST_NAMED, edge == EDGE_ALL ? EDGE_ALL : EDGE_BOTH);
        } else if ((u16(node + 4) & F_DUPDATA) && (nest == NEST_MAIN || nest == NEST_PLAIN || nest == NEST_DUPS)) {
            /* The main table, and a named one without MDB_DUPSORT, is no DUPSORT table: LMDB,
             * reading such a record, goes to a cursor of its values that the table's cursor has
             * not (SIGSEGV; at every open for the main table and "meta"); nor does a DUPSORT
             * key's tree of values, whose nodes are values alone. */
            bad(w, tree, pg, "node %u has flags 0x%x: the values of a DUPSORT key, which this table cannot hold", i,
                u16(node + 4));
        } else if (u16(node + 4) & F_DUPDATA) {
            walk_subpage(w, tree, pg, data, dsize);
        }
    }
out:
    free(p);
}

/* A tree from its MDB_db record (db: DBSIZE bytes); from: the page that holds the record. */
static void walk_tree(pwalk *w, const char *tree, const unsigned char *db, uint64_t from, unsigned nest, unsigned edge)
{
    uint16_t depth = u16(db + 6);
    uint64_t root = u64(db + 40);
    if (root == UINT64_MAX) return; /* an empty table */
    if (nest == NEST_NAMED && !(u16(db + 4) & MDB_DUPSORT_FLAG)) nest = NEST_PLAIN;
    if (depth == 0 || depth > MAX_DEPTH) {
        bad(w, tree, from, "its record gives a depth of %u", depth);
        return;
    }
    walk_page(w, tree, from, root, 1, depth, nest, edge);
}

/* The walk of txn m's snapshot: every tree, or (main_only) the main table's own pages. */
static int check_snapshot(lenv *e, MDB_txn *mt, int main_only, const char *only, void (*cb)(const char *line, void *payload),
                          void *payload, uint64_t *out_problems, int *out_main_bad, int *out_meta_bad)
{
    unsigned char meta[2][PAGEHDR + 136];
    const unsigned char *m = NULL;
    pwalk w;
    MDB_stat st;
    int fd;
    *out_problems = 0;
    if (mdb_env_get_fd(e->env, &fd) || mdb_env_stat(e->env, &st)) return ent__err(ENT_IO, "store %s: no data.mdb", e->path);
    memset(&w, 0, sizeof w);
    w.fd = fd;
    w.psize = st.ms_psize;
    w.cb = cb;
    w.payload = payload;
    w.main_only = main_only;
    w.only = only;
    w.writable = !e->read_only;
    /* The snapshot's own meta page: its roots and last page. Once two commits came after the txn
     * began, its meta is overwritten (its pages are still kept for it, but their roots are not
     * on disk any more): nothing is walked then, as the walk runs before any other read of
     * verify, a writer would have had to commit twice in between. */
    for (int i = 0; i < 2; i++) {
        if (pread(fd, meta[i], sizeof meta[i], (off_t)i * w.psize) != (ssize_t)sizeof meta[i])
            return ent__err(ENT_IO, "store %s: reading data.mdb's meta page %d: %s", e->path, i, strerror(errno));
        if (u32(meta[i] + PAGEHDR) == 0xBEEFC0DE && u64(meta[i] + PAGEHDR + 128) == mdb_txn_id(mt)) m = meta[i] + PAGEHDR;
    }
    if (!m) return ENT_OK;
    w.last = u64(m + 120);
    if (!(w.seen = calloc(w.last / 8 + 1, 1))) return ent__err(ENT_NOMEM, "out of memory");
    if (!main_only && !only) walk_tree(&w, "(free pages)", m + 24, 0, NEST_FREE, EDGE_ALL);
    if (!w.rc) walk_tree(&w, "(main)", m + 24 + DBSIZE, 0, NEST_MAIN, EDGE_ALL);
    free(w.seen);
    if (w.rc) return w.rc;
    *out_problems = w.problems;
    if (out_main_bad) *out_main_bad = w.main_bad;
    if (out_meta_bad) *out_meta_bad = w.meta_bad;
    return ENT_OK;
}

int ent__lmdb_check_pages(ent_btxn *vtxn, const char *table, void (*cb)(const char *line, void *payload), void *payload,
                          uint64_t *out_problems)
{
    ltxn *t = (ltxn *)vtxn;
    *out_problems = 0;
    if (ent__lmdb_forked(t->e)) return ENT_BUSY;
    if (!t->m) return ent__err(ENT_INVALID, "store %s: the transaction failed earlier", t->e->path);
    return check_snapshot(t->e, t->m, 0, table, cb, payload, out_problems, NULL, NULL);
}

static void first_line(const char *line, void *payload)
{
    char *first = payload;
    if (!first[0]) snprintf(first, 512, "%s", line);
}

int ent__lmdb_check_main(lenv *e, MDB_txn *mt)
{
    char first[512] = "";
    uint64_t problems = 0;
    int main_bad = 0, meta_bad = 0;
    int rc = check_snapshot(e, mt, 1, NULL, first_line, first, &problems, &main_bad, &meta_bad);
    if (rc) return rc;
    if (problems && main_bad)
        return ent__err(ENT_CORRUPT, "store %s: %s; the list of its tables is damaged, nothing of it was read (restore a backup or a copy of a mirror; a copy of the directory made while the store was written is torn so: copy a live store with `entity copy`)",
                        e->path, first);
    if (problems && meta_bad)
        return ent__err(ENT_CORRUPT, "store %s: %s; its meta (the schema, the log's end) is damaged, nothing of it was read (restore a backup or a copy of a mirror; a copy of the directory made while the store was written is torn so: copy a live store with `entity copy`)",
                        e->path, first);
    if (problems)
        return ent__err(ENT_CORRUPT, "store %s: %s; a write reads that page, which LMDB would follow as it is: no "
                        "write is taken; reads still work (`entity check` names the damage, `entity dump` gets out "
                        "what is sound; restore a backup or a copy of a mirror; a copy of the directory made while the store "
                        "was written is torn so: copy a live store with `entity copy`)", e->path, first);
    return ENT_OK;
}
