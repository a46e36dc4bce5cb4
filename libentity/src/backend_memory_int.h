/* Internals of the memory backend shared by its files: backend_memory.c (the store, transactions,
 * tables, reads and writes, the vtable), backend_memory_tree.c (keys, versioned nodes and the
 * look-ups in a table's tree) and backend_memory_cursor.c (cursors). Nothing else includes it. */
#ifndef ENT_BACKEND_MEMORY_INT_H
#define ENT_BACKEND_MEMORY_INT_H

#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "error_int.h"

/* Seeks build a probe of key and duplicate value; up to this size it lives on the stack. */
#define PROBE_STACK 1024

typedef struct mtxn mtxn;

typedef struct mver {
    struct mver *older;
    uint64_t ver;   /* commit number; 0 while uncommitted */
    mtxn *owner;    /* the writer, while uncommitted */
    int dead;       /* a deletion */
    int sp;         /* written inside the writer's savepoint (1) or before it (0) */
    size_t vlen;
    char val[];     /* value (plain tables) */
} mver;

typedef struct mnode {
    size_t klen, dlen; /* key, and for DUPSORT tables the duplicate value */
    char *k;           /* key bytes then dup bytes */
    mver *head;
    int in_gc;         /* queued for version collection */
} mnode;

typedef struct mtable {
    char *name;
    unsigned flags;
    GTree *tree;
    GHashTable *hash;  /* plain tables: key -> node, the same nodes as the tree */
    uint64_t mods;     /* bumped on every node insert/remove: cursors re-seek when it moves */
    uint64_t created;  /* commit number that created it; 0 while its creator runs */
    mtxn *owner;
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
    mtxn *readers;           /* active transactions (snapshots) */
    GPtrArray *gc;           /* (table index, node) pairs with old versions to collect */
    size_t max_key;
    _Atomic(mtxn *) spare;   /* an ended read txn's struct, zeroed, for the next begin */
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
    GArray *touched;         /* gcitem: nodes with a version of this txn (by value: no malloc per put) */
    GPtrArray *created;      /* mtable* created by this txn */
    /* A savepoint (m_sp_begin): what touched and created held when it began. Versions written
     * inside it are pushed above the txn's older own ones instead of replacing them, so that
     * undoing it is unlinking the heads its touched entries pushed, as an abort does. */
    int in_sp;
    guint sp_touched, sp_created;
};

typedef struct mcur {
    mtxn *t;
    mtable *tb;
    GTreeNode *node;
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
    for (mver *v = n->head; v; v = v->older) {
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

/* backend_memory_tree.c */
gint ent__mem_node_cmp(gconstpointer a, gconstpointer b, gpointer unused);
guint ent__mem_node_hash(gconstpointer p);
gboolean ent__mem_node_eq(gconstpointer a, gconstpointer b);
mnode *ent__mem_hash_find(const mtable *tb, const void *k, size_t klen);
void ent__mem_node_remove(mtable *tb, mnode *n);
void ent__mem_node_free(gpointer p);
GTreeNode *ent__mem_lower(mtable *tb, const void *k, size_t klen, const void *d, size_t dlen);

/* backend_memory_cursor.c: the vtable's cursor methods */
int ent__mem_cursor_open(ent_btxn *txn, unsigned ti, ent_bcur **out);
int ent__mem_cursor_get(ent_bcur *cur, int op, ent_slice *k, ent_slice *v);
void ent__mem_cursor_close(ent_bcur *cur);

#endif
