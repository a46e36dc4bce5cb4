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

/* LMDB 0.9's meta page (mdb.c: MDB_page's 16-byte header, then MDB_meta), as on the disk. */
#define MDB_MAGIC_V 0xBEEFC0DEu
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
    uint32_t pad;
    char boot[40];   /* /proc/sys/kernel/random/boot_id when written */
    uint64_t csum;
    /* base's meta page: a commit after base may have written its meta into either slot of
     * data.mdb (unsynced, torn) before any record was durable */
    unsigned char meta[256];
} wal_hdr;

/* A record: this header, npages page numbers (uint64_t), the META_LEN first bytes of the meta
 * page of snapshot txn, then the npages page images of psize bytes each, in that order. */
typedef struct wal_rec {
    uint32_t magic;
    uint32_t psize;
    uint64_t gen;
    uint64_t prev; /* the txn the previous record ended at, or the base */
    uint64_t txn;  /* the snapshot this record brings data.mdb to */
    uint64_t npages;
    uint64_t csum; /* XXH3 of this header (csum 0), the page numbers, the meta and the images */
} wal_rec;

#endif
