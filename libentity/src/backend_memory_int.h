/* Internals of the memory backend shared by its files: backend_memory.c (the store, transactions,
 * tables, reads and writes, the vtable), backend_memory_tree.c (keys, versioned nodes and the
 * look-ups in a table's tree) and backend_memory_cursor.c (cursors). Nothing else includes it. */
#ifndef ENT_BACKEND_MEMORY_INT_H
#define ENT_BACKEND_MEMORY_INT_H

#include <bsd/sys/tree.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "error_int.h"
#include "hash_seed.h"

/* Seeks build a probe of key and duplicate value; up to this size it lives on the stack. */
#define PROBE_STACK 1024

typedef struct mtxn mtxn;

/* A write txn keeps at most this many new nodes out of the trees: its look-ups that miss the
 * trees search them one by one (a batch of creates makes five per entity; with 64 the searches
 * cost a batched create 25 % more instructions). */
#define PEND_MAX 16

/* A version's `older` link and a node's `head` are the only fields the writer changes while
 * readers may be inside a call (it links and unlinks its own uncommitted versions without the
 * tree lock, backend_memory.c): atomic, stored with release and loaded with acquire. Everything
 * else changes before a version or node is reachable, or under the lock held exclusively. */
typedef struct mver {
    _Atomic(struct mver *) older;
    uint64_t ver;   /* commit number; 0 while uncommitted */
    mtxn *owner;    /* the writer, while uncommitted */
    int dead;       /* a deletion */
    int sp;         /* written inside the writer's savepoint (1) or before it (0) */
    size_t vlen;
    char val[];     /* value (plain tables) */
} mver;

typedef struct mnode {
    RB_ENTRY(mnode) rb; /* in its table's tree: intrusive, so inserting allocates nothing */
    size_t klen, dlen;  /* key, and for DUPSORT tables the duplicate value */
    char *k;            /* key bytes then dup bytes */
    _Atomic(mver *) head;
    uint32_t hash;      /* of the key (plain tables): probes compare it before the bytes; of key and
                         * dup value (DUPSORT) for the writer's search of its new nodes */
    int in_gc;          /* queued for version collection */
} mnode;

RB_HEAD(ent__mtree, mnode);
int ent__mem_node_cmp(const mnode *a, const mnode *b);
RB_PROTOTYPE(ent__mtree, mnode, rb, ent__mem_node_cmp)

/* Plain tables' nodes by key: open addressing, linear probing, a power-of-two number of slots
 * (0 until the first insert), at most half of them used. */
typedef struct mhash {
    mnode **slot;
    size_t cap, n;
} mhash;

typedef struct mtable {
    char *name;
    unsigned flags;
    struct ent__mtree tree;
    size_t nnodes;
    int hashed;        /* plain tables: hash holds the same nodes as the tree */
    mhash hash;
    uint64_t mods;     /* bumped on every node insert/remove: cursors re-seek when it moves */
    uint64_t created;  /* commit number that created it; 0 while its creator runs */
    mtxn *owner;
    size_t npend;      /* the writer's new nodes not inserted yet (mtxn.pend): the writer's only */
} mtable;

typedef struct mstore {
    pthread_rwlock_t lock;   /* trees and versions */
    pthread_mutex_t wmu;     /* one writer at a time */
    pthread_mutex_t rmu;     /* active readers list, change counter */
    pthread_cond_t changed;
    uint64_t counter;
    uint64_t committed;
    mtable **tables;
    size_t ntables, captables;
    /* The tables by name: open addressing over indexes into tables + 1 (0 empty), at most half
     * full, in index order along each probe sequence (so the first visible match is the lowest
     * index, as a scan of the list found it). A scan per look-up made opening a store of
     * thousands of types quadratic (each type and index looks its table up). Changed by the writer
     * under the write lock; readers look under the read lock, the writer without (it alone
     * changes it). */
    uint32_t *by_name;
    unsigned by_name_bits;
    mtxn *readers;           /* active transactions (snapshots) */
    struct gcitem *gc;       /* (table, node) pairs with old versions to collect */
    size_t ngc, capgc;
    uint64_t gc_min;         /* the oldest snapshot at the last collection, */
    size_t gc_checked;       /* and how many queued entries it checked and kept */
    uint64_t gc_walked;      /* queued entries examined by every collection (counted for a test) */
    uint64_t name_probes;    /* tables whose name a look-up by name compared (counted for a test) */
    size_t max_key;
    mver **retired;          /* the writer's own versions it replaced: freed in its next
                              * exclusive section, when no reader can be on them */
    size_t nretired, capretired;
    struct gcitem *pend;     /* the writer's new nodes, in no tree yet (at most PEND_MAX): inserted
                              * in its next exclusive section. In the store, not the txn: one
                              * writer at a time, and a read txn's struct stays small */
    size_t npend;
    _Atomic(mtxn *) spare;   /* an ended read txn's struct, zeroed, for the next begin */
    unsigned fork_gen;       /* ent__fork_gen() at open: a close in a child destroys no lock */
} mstore;

typedef struct gcitem {
    mtable *t;
    mnode *n;
} gcitem;

struct mtxn {
    mstore *s;
    int write;
    uint64_t snap;
    mtxn *next, *prev;       /* in s->readers */
    gcitem *touched;         /* nodes with a version of this txn (by value: no malloc per put) */
    size_t ntouched, captouched;
    mtable **created;        /* tables created by this txn */
    size_t ncreated, capcreated;
    /* A savepoint (m_sp_begin): what touched and created held when it began. Versions written
     * inside it are pushed above the txn's older own ones instead of replacing them, so that
     * undoing it is unlinking the heads its touched entries pushed, as an abort does. */
    int in_sp;
    size_t sp_touched, sp_created;
};

typedef struct mcur {
    mtxn *t;
    mtable *tb;
    mnode *node;
    uint64_t mods;
    int positioned;
    char *key;               /* copy of the current node's key+dup, for re-seeking */
    size_t klen, dlen, cap;
} mcur;

static inline int dup_of(const mtable *tb) { return (tb->flags & ENT_TBL_DUPSORT) != 0; }
static inline mtable *tbl(mtxn *t, unsigned i) { return t->s->tables[i]; }

/* Small enough to inline on every read: byte-order key compare, the version a txn sees. */
static inline int ent__mem_bcmp(const void *a, size_t an, const void *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c) return c;
    return an < bn ? -1 : an > bn;
}

/* The version of node n that transaction t sees, or NULL. */
static inline mver *ent__mem_visible(const mnode *n, const mtxn *t)
{
    for (mver *v = atomic_load_explicit(&((mnode *)n)->head, memory_order_acquire); v;
         v = atomic_load_explicit(&v->older, memory_order_acquire)) {
        if (v->owner) {
            if (v->owner == t) return v->dead ? NULL : v;
            continue;
        }
        if (v->ver <= t->snap) return v->dead ? NULL : v;
    }
    return NULL;
}

static inline int ent__mem_table_visible(const mtable *tb, const mtxn *t)
{
    return tb && (tb->owner ? tb->owner == t : tb->created <= t->snap);
}

/* backend_memory_tree.c. Every allocation of the backend is checked: GLib, used before, aborted
 * the process when one failed. */
int ent__mem_reserve(void *arrp, size_t *cap, size_t need, size_t size);
/* A plain table's hash of a key: keyed (hash_seed.c), as the keys are a host's and a server's
 * clients choose them (string primary keys, unique values). Under the unkeyed FNV-1a used until
 * 2026-12-05 anyone could compute keys sharing a slot (its low bits depend only on the keys' low
 * bits), and every get or put of them walked all the others: 2 000 such keys cost 2 M slot
 * visits to read each once (test_memory_hash). A slot is the hash's low bits: 32 are enough. */
static inline uint32_t ent__mem_key_hash(const void *k, size_t klen) { return (uint32_t)ent__key_hash(k, klen); }
mnode *ent__mem_hash_find(const mtable *tb, const void *k, size_t klen);
mnode *ent__mem_hash_find_h(const mtable *tb, const void *k, size_t klen, uint32_t hv);
int ent__mem_hash_reserve(mtable *tb, size_t more);
void ent__mem_hash_add(mtable *tb, mnode *n);
void ent__mem_node_insert(mtable *tb, mnode *n);
void ent__mem_node_remove(mtable *tb, mnode *n);
void ent__mem_node_free(mnode *n);
void ent__mem_table_free(mtable *tb);
int ent__mem_pair_cmp(const mnode *n, const void *k, size_t klen, const void *d, size_t dlen);
mnode *ent__mem_lower(mtable *tb, const void *k, size_t klen, const void *d, size_t dlen);
static inline mnode *ent__mem_next(mnode *n) { return RB_NEXT(ent__mtree, NULL, n); }
static inline mnode *ent__mem_prev(mnode *n) { return RB_PREV(ent__mtree, NULL, n); }
static inline mnode *ent__mem_first(mtable *tb) { return RB_MIN(ent__mtree, &tb->tree); }
static inline mnode *ent__mem_last(mtable *tb) { return RB_MAX(ent__mtree, &tb->tree); }

/* backend_memory.c: the writer's new nodes into the trees, in an exclusive section */
void ent__mem_flush(mtxn *t);

/* backend_memory_cursor.c: the vtable's cursor methods */
int ent__mem_cursor_open(ent_btxn *txn, unsigned ti, ent_bcur **out);
int ent__mem_cursor_get(ent_bcur *cur, int op, ent_slice *k, ent_slice *v);
void ent__mem_cursor_close(ent_bcur *cur);

#endif
