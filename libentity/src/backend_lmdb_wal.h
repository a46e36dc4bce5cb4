/* The write-ahead file's format on the disk (backend_lmdb_wal.c writes and reads it; tests read
 * it to check what a commit logged, and rewrite a header's boot to play a reboot). */
#ifndef ENT_BACKEND_LMDB_WAL_H
#define ENT_BACKEND_LMDB_WAL_H
#include <stdint.h>

/* The file: the header (wal_hdr) at 0, records from REC_START. */
#define WAL_MAGIC "entwal1"
#define WAL_VERSION 1
#define HDR_SIZE 512 /* one sector: written whole or not at all */
#define SHARED_OFF 2048 /* in the notify page, past struct lnotify */
#define REC_START 8192
#define REC_MAGIC 0x72577445u /* "EtWr" */
#define META_LEN 256 /* page header and MDB_meta (152 bytes in LMDB 0.9) */
_Static_assert(HDR_SIZE >= 88 + META_LEN, "header size");
/* A checkpoint once the records pass this: data.mdb's sync then writes what the page cache kept
 * dirty, and the file is written over from its start (its blocks are reused: an overwrite syncs
 * without a change of the file's size). */
#define WAL_CKPT_BYTES ((uint64_t)64 << 20)
#define LOCK_LOG 0
#define LOCK_OPEN 1

/* LMDB 0.9's pages (mdb.c: MDB_page's 16-byte header: mp_pgno, mp_pad, mp_flags, mp_lower and
 * mp_upper, or mp_pages for an overflow page; then MDB_meta on a meta page), as on the disk. */
#define MDB_MAGIC_V 0xBEEFC0DEu
#define PG_FLAGS 10
#define PG_LOWER 12
#define PG_UPPER 14
#define P_BRANCH 0x01
#define P_LEAF 0x02
#define P_OVERFLOW 0x04
#define P_META 0x08
#define P_LEAF2 0x20
#define OFF_MAGIC 16
#define OFF_LAST_PG 136
#define OFF_TXNID 144

typedef struct wal_hdr {
    char magic[8];
    uint32_t version;
    uint32_t psize;
    uint64_t gen;
    uint64_t base;   /* the txn data.mdb was synced at */
    uint32_t active; /* records may follow */
    uint32_t seed;   /* the records' checksum seed: random per generation (0 in files of
                      * before: XXH3 with seed 0 is the unseeded one) */
    char boot[40];   /* /proc/sys/kernel/random/boot_id when written */
    uint64_t csum;
    /* base's meta page: a commit after base may have written its meta into either slot of
     * data.mdb (unsynced, torn) before any record was durable */
    unsigned char meta[256];
} wal_hdr;

/* A record: this header, npages wal_page entries, the META_LEN first bytes of the meta page of
 * snapshot txn, then the pages' images, in that order. A branch or leaf page's image leaves out
 * the unused bytes between its node pointers and its nodes (mp_lower to mp_upper: LMDB never reads
 * them; a replay writes zeros there): a third to a half of a page after random inserts. */
typedef struct wal_rec {
    uint32_t magic;
    uint32_t psize;
    uint64_t gen;
    uint64_t prev;  /* the txn the previous record ended at, or the base */
    uint64_t txn;   /* the snapshot this record brings data.mdb to */
    uint64_t npages;
    uint64_t bytes; /* of the images */
    uint64_t csum;  /* XXH3 of this header (csum 0), the entries, the meta and the images */
} wal_rec;

/* A page's image is its bytes [0, lo) and [hi, psize): lo = hi = psize for a whole page. */
typedef struct wal_page {
    uint64_t pgno;
    uint32_t lo, hi;
} wal_page;

#endif
